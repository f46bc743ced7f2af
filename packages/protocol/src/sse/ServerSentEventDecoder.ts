import { createParser, type EventSourceParser } from "eventsource-parser";

/** One dispatched server-sent event. `event` is "message" when the frame named none. */
export interface ServerSentEvent {
    event: string;
    data: string;
    /** The last event id seen on the stream so far (the spec's "last event ID"), or null. */
    id: string | null;
}

/**
 * The project's one reader of `text/event-stream` bodies (the SDK, the llama-server engine, the
 * bench and the tests all use it), on the well-kept `eventsource-parser`, which follows the WHATWG
 * "event stream interpretation" rules: CRLF, CR or LF line ends, multi-line `data` joined with
 * "\n", comments (`: ping`) dropped, ids with NUL ignored.
 *
 * What this adds around it: bytes in, so a multibyte character split across network chunks stays
 * whole; events returned per chunk rather than through a callback; the last event id carried over;
 * and `flush()`, which drops an event left without its terminating blank line, as the spec says: a
 * truncated stream must not yield a half-written event.
 *
 * Use one decoder per response: `decode(bytes)` for each chunk, then `flush()` once at the end.
 */
export class ServerSentEventDecoder {
    readonly #text = new TextDecoder("utf-8");
    readonly #parser: EventSourceParser;
    #events: ServerSentEvent[] = [];
    #lastEventId: string | null = null;

    constructor() {
        this.#parser = createParser({
            onEvent: (message) => {
                if (message.id !== undefined) this.#lastEventId = message.id;
                this.#events.push({ event: message.event ?? "message", data: message.data, id: this.#lastEventId });
            }
        });
    }

    /** Feeds one chunk of the body and returns the events it completed. */
    decode(chunk: Uint8Array): ServerSentEvent[] {
        return this.decodeText(this.#text.decode(chunk, { stream: true }));
    }

    /** Feeds already-decoded text (for callers that read a body as text). */
    decodeText(text: string): ServerSentEvent[] {
        if (text !== "") this.#parser.feed(text);
        return this.#take();
    }

    /** Ends the body: what completes with the last bytes is returned, an unterminated event is dropped. */
    flush(): ServerSentEvent[] {
        const rest = this.#text.decode();
        if (rest !== "") this.#parser.feed(rest);
        this.#parser.reset({ consume: false });
        return this.#take();
    }

    #take(): ServerSentEvent[] {
        const events = this.#events;
        this.#events = [];
        return events;
    }
}

/** Every event of a `text/event-stream` body, in order, as it arrives. */
export async function* readServerSentEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<ServerSentEvent> {
    const decoder = new ServerSentEventDecoder();
    for await (const chunk of body) yield* decoder.decode(chunk);
    yield* decoder.flush();
}

/** Every event of a whole `text/event-stream` body held as text (tests, small answers). */
export function parseServerSentEvents(body: string): ServerSentEvent[] {
    const decoder = new ServerSentEventDecoder();
    return [...decoder.decodeText(body), ...decoder.flush()];
}
