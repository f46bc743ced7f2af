/** One dispatched server-sent event. `event` is "message" when the frame named none. */
export interface ServerSentEvent {
    event: string;
    data: string;
    id: string | null;
}

/**
 * Turns the bytes of a `text/event-stream` body into events, following the WHATWG
 * "event stream interpretation" rules. Network chunks may split the body anywhere, so the decoder
 * keeps three kinds of state between calls:
 * - the UTF-8 decoder's partial code point (a multibyte character split across chunks);
 * - the partial line (a line split across chunks);
 * - a pending CR, because `\r` ends a line but a `\n` in the next chunk belongs to the same line end.
 *
 * Comments (`: ping`) are dropped. An event left without its terminating blank line at the end of
 * the body is discarded, as the spec says: a truncated stream must not yield a half-written event.
 *
 * Use one decoder per response: `decode(bytes)` for each chunk, then `flush()` once at the end.
 */
export class SSEDecoder {
    readonly #text = new TextDecoder("utf-8");
    #partialLine = "";
    #skipLeadingLF = false;
    #data: string[] = [];
    #event = "";
    #id: string | null = null;
    #lastEventId: string | null = null;

    /** Feeds one chunk of the body and returns the events it completed. */
    decode(chunk: Uint8Array): ServerSentEvent[] {
        return this.#lines(this.#text.decode(chunk, { stream: true }));
    }

    /** Ends the body: drops an unterminated event (see the class comment). */
    flush(): ServerSentEvent[] {
        const events = this.#lines(this.#text.decode());
        this.#partialLine = "";
        this.#resetEvent();
        return events;
    }

    #lines(text: string): ServerSentEvent[] {
        const events: ServerSentEvent[] = [];
        let start = 0;
        if (this.#skipLeadingLF && text.length > 0) {
            if (text.charCodeAt(0) === 0x0a) start = 1;
            this.#skipLeadingLF = false;
        }
        for (let i = start; i < text.length; i++) {
            const code = text.charCodeAt(i);
            if (code !== 0x0a && code !== 0x0d) continue;
            const line = this.#partialLine + text.slice(start, i);
            this.#partialLine = "";
            if (code === 0x0d) {
                if (i + 1 === text.length) this.#skipLeadingLF = true;
                else if (text.charCodeAt(i + 1) === 0x0a) i++;
            }
            start = i + 1;
            const event = this.#line(line);
            if (event !== null) events.push(event);
        }
        this.#partialLine += text.slice(start);
        return events;
    }

    #line(line: string): ServerSentEvent | null {
        if (line === "") return this.#dispatch();
        if (line.startsWith(":")) return null;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        switch (field) {
            case "data":
                this.#data.push(value);
                break;
            case "event":
                this.#event = value;
                break;
            case "id":
                // The spec ignores ids containing NUL.
                if (!value.includes("\0")) this.#id = value;
                break;
            // `retry` and unknown fields are ignored: the SDK's retry policy does not reconnect streams.
        }
        return null;
    }

    #dispatch(): ServerSentEvent | null {
        if (this.#id !== null) this.#lastEventId = this.#id;
        if (this.#data.length === 0) {
            this.#resetEvent();
            return null;
        }
        const event: ServerSentEvent = { event: this.#event || "message", data: this.#data.join("\n"), id: this.#lastEventId };
        this.#resetEvent();
        return event;
    }

    #resetEvent(): void {
        this.#data = [];
        this.#event = "";
        this.#id = null;
    }
}
