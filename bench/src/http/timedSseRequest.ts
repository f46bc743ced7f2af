import { request, type Agent } from "node:http";
import { ServerSentEventDecoder, type ServerSentEvent } from "@quandex/protocol/sse";
import type { RequestRecord } from "../metrics.js";

/** What the caller learns from one event: whether it carried text, the output count, or the end. */
export interface TimedStream {
    /** This event carried generated text: its arrival time is a chunk time. */
    text(): void;
    outputTokens(count: number): void;
    /** The stream is complete (no `error`) or failed; later events are ignored. */
    finish(error?: string): void;
}

export type TimedSseRequestOptions = {
    url: URL;
    /** A keep-alive agent shared by a run's requests, or `false` for a connection per request. */
    agent: Agent | false;
    headers: Record<string, string>;
    payload: Buffer;
    /**
     * Reads one event. `json` is its data parsed (`undefined` for a `[DONE]` sentinel); data that
     * is neither fails the request before this is called.
     */
    onEvent(event: ServerSentEvent, json: unknown, stream: TimedStream): void;
    /** The error recorded when the response ends before `finish` was called. */
    endedEarly: string;
};

/**
 * Sends one streaming POST and times it from the client's side: send, each event with text, and
 * the end. It uses `node:http` directly: a response `data` event is the bytes one socket read
 * returned, with no WHATWG stream, promise or TextDecoderStream hop between the socket and the
 * timestamp, so it adds the least to the figures it measures. A failed stream is cut off, which
 * frees the server's slot.
 * Never throws: failures (HTTP errors, error events, a stream that ends early) go into `RequestRecord.error`.
 */
export function timedSseRequest({ url, agent, headers, payload, onEvent, endedEarly }: TimedSseRequestOptions): Promise<RequestRecord> {
    return new Promise((resolve) => {
        const chunkTimes: number[] = [];
        let outputTokens = 0;
        let settled = false;
        let now = 0;
        const start = performance.now();
        const finish = (error?: string): void => {
            if (settled) return;
            settled = true;
            const record: RequestRecord = { start, chunkTimes, end: performance.now(), outputTokens };
            if (error != null) record.error = error;
            resolve(record);
            if (error != null) req.destroy();
        };
        const stream: TimedStream = {
            text: () => void chunkTimes.push(now),
            outputTokens: (count) => void (outputTokens = count),
            finish
        };
        const req = request(url, { method: "POST", agent, headers: { ...headers, "content-type": "application/json", "content-length": String(payload.length) } }, (res) => {
            res.setEncoding("utf8"); // a StringDecoder: multi-byte characters split across reads stay whole
            if (res.statusCode !== 200) {
                let text = "";
                res.on("data", (piece: string) => (text += piece));
                res.on("end", () => finish(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
                return;
            }
            const decoder = new ServerSentEventDecoder();
            const handle = (events: ServerSentEvent[]): void => {
                for (const event of events) {
                    if (settled) return;
                    let json: unknown;
                    if (event.data !== "[DONE]") {
                        try {
                            json = JSON.parse(event.data);
                        } catch {
                            return finish(`unparseable SSE data: ${event.data.slice(0, 100)}`);
                        }
                    }
                    onEvent(event, json, stream);
                }
            };
            res.on("data", (piece: string) => {
                now = performance.now();
                handle(decoder.decodeText(piece));
            });
            res.on("end", () => {
                handle(decoder.flush());
                finish(endedEarly);
            });
            res.on("error", (error) => finish(`response error: ${error.message}`));
        });
        req.on("error", (error) => finish(`request error: ${error.message}`));
        req.end(payload);
    });
}
