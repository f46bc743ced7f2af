import { APIConnectionError, APIError, APITimeoutError, APIUserAbortError, QuandexError } from "./errors.js";
import { ServerSentEventDecoder } from "@quandex/protocol/sse";

/** An opened SSE answer, as the client hands it to a Stream. */
export interface OpenedResponse {
    response: Response;
    /** Ends the HTTP attempt: clears its timer and detaches it from the stream's signal. */
    release: () => void;
}

/**
 * The chunks of one streamed request, as an `AsyncIterable`.
 *
 * - The request starts when iteration starts (an un-iterated Stream sends nothing), and errors
 *   before the first chunk (401, 404, …) are thrown by the first `next()`.
 * - It can be read once. `tee()` splits it when two consumers need it.
 * - Leaving the loop early (`break`, `return`, a throw) or aborting the signal closes the
 *   connection, which is how the server learns to stop generating and free the sequence.
 * - An aborted stream throws APIUserAbortError; an `event: error` frame throws the matching
 *   APIError subclass; a body that ends before `data: [DONE]` throws APIConnectionError; a body
 *   that falls silent for longer than its idle timeout throws APITimeoutError.
 */
export class Stream<T> implements AsyncIterable<T> {
    /** Aborting it closes the request; `abort()` is a shortcut. */
    readonly controller: AbortController;
    readonly #source: () => AsyncIterator<T>;
    #consumed = false;

    constructor(source: () => AsyncIterator<T>, controller: AbortController) {
        this.#source = source;
        this.controller = controller;
    }

    /**
     * A Stream over an SSE answer.
     * @param open Sends the request (with retries) under the given signal; called on first `next()`.
     * @param parse Turns one event's `data` into an item.
     * @param options.signal The caller's signal; when it fires the stream is aborted.
     * @param options.idleTimeoutMs How long the body may stay silent (keep-alive pings count)
     *   before the stream fails with APITimeoutError. Defaults to no limit.
     */
    static fromSSE<T>(
        open: (signal: AbortSignal) => Promise<OpenedResponse>,
        parse: (data: string) => T,
        options: { signal?: AbortSignal; idleTimeoutMs?: number } = {}
    ): Stream<T> {
        const { signal, idleTimeoutMs } = options;
        const controller = new AbortController();
        async function* iterate(): AsyncGenerator<T, void, undefined> {
            const onAbort = (): void => controller.abort(signal?.reason);
            if (signal?.aborted) throw new APIUserAbortError();
            signal?.addEventListener("abort", onAbort, { once: true });
            let finished = false;
            let release = (): void => {};
            let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
            try {
                const opened = await open(controller.signal);
                release = opened.release;
                const { response } = opened;
                if (response.body === null) throw new APIConnectionError("The stream answer has no body.");
                reader = response.body.getReader();
                const decoder = new ServerSentEventDecoder();
                for (;;) {
                    let read: ReadableStreamReadResult<Uint8Array>;
                    try {
                        read = await readWithin(reader, idleTimeoutMs);
                    } catch (cause) {
                        if (cause instanceof APITimeoutError) throw cause;
                        if (controller.signal.aborted) throw new APIUserAbortError(undefined, { cause });
                        throw new APIConnectionError("The connection broke during the stream.", { cause });
                    }
                    const events = read.done ? decoder.flush() : decoder.decode(read.value);
                    for (const event of events) {
                        if (event.event === "error") throw APIError.fromStreamFrame(parseJSON(event.data), response.headers);
                        if (event.data === "[DONE]") {
                            finished = true;
                            return;
                        }
                        // Unknown named events are skipped so the server can add some without breaking clients.
                        if (event.event !== "message") continue;
                        yield parse(event.data);
                    }
                    if (read.done) throw new APIConnectionError("The stream ended before `data: [DONE]`.");
                }
            } finally {
                signal?.removeEventListener("abort", onAbort);
                // Not finished means the loop was left early or failed: close the connection so the
                // server stops generating. Cancelling the body alone may leave a keep-alive socket open.
                if (!finished) controller.abort();
                reader?.cancel().catch(() => {});
                release();
            }
        }
        return new Stream(() => iterate(), controller);
    }

    [Symbol.asyncIterator](): AsyncIterator<T> {
        if (this.#consumed) throw new QuandexError("This stream was already read; use tee() to read it twice.");
        this.#consumed = true;
        return this.#source();
    }

    /** Closes the request. A loop over the stream then throws APIUserAbortError. */
    abort(reason?: unknown): void {
        this.controller.abort(reason);
    }

    /**
     * Two streams that each yield every item. Items are buffered until both have read them. The
     * request is closed once both have finished or been left.
     */
    tee(): [Stream<T>, Stream<T>] {
        const source = this[Symbol.asyncIterator]();
        // A branch's queue becomes null once it is left, so the other branch stops buffering for it.
        const queues: Array<Array<Promise<IteratorResult<T>>> | null> = [[], []];
        const branch = (index: 0 | 1): AsyncIterator<T> => ({
            next: () => {
                const queue = queues[index];
                if (!queue) return Promise.resolve({ done: true, value: undefined });
                if (queue.length === 0) {
                    const result = source.next();
                    for (const q of queues) q?.push(result);
                }
                return queue.shift()!;
            },
            return: async () => {
                if (queues[index]) {
                    queues[index] = null;
                    if (queues.every((q) => q === null)) await source.return?.();
                }
                return { done: true, value: undefined };
            }
        });
        return [new Stream(() => branch(0), this.controller), new Stream(() => branch(1), this.controller)];
    }

    /**
     * The items as newline-delimited JSON bytes, e.g. to pass a stream from a server route to a
     * browser. Cancelling the ReadableStream closes the request.
     */
    toReadableStream(): ReadableStream<Uint8Array> {
        const iterator = this[Symbol.asyncIterator]();
        const encoder = new TextEncoder();
        return new ReadableStream<Uint8Array>({
            async pull(controller) {
                try {
                    const { done, value } = await iterator.next();
                    if (done) controller.close();
                    else controller.enqueue(encoder.encode(JSON.stringify(value) + "\n"));
                } catch (error) {
                    controller.error(error);
                }
            },
            async cancel() {
                await iterator.return?.();
            }
        });
    }
}

/** One read, failing with APITimeoutError when nothing arrives within `ms` (the caller then aborts). */
async function readWithin(reader: ReadableStreamDefaultReader<Uint8Array>, ms: number | undefined): Promise<ReadableStreamReadResult<Uint8Array>> {
    if (ms === undefined) return reader.read();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const silence = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new APITimeoutError(`The stream sent nothing for ${ms} ms.`)), ms);
    });
    try {
        return await Promise.race([reader.read(), silence]);
    } finally {
        clearTimeout(timer);
    }
}

function parseJSON(data: string): unknown {
    try {
        return JSON.parse(data);
    } catch (cause) {
        throw new QuandexError(`The server sent an event that is not JSON: ${data.slice(0, 200)}`, { cause });
    }
}
