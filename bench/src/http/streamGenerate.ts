import { request, type Agent } from "node:http";
import type { RequestRecord } from "../metrics.js";
import { SseParser } from "./SseParser.js";

export type StreamGenerateOptions = {
    /** Server origin, e.g. `http://127.0.0.1:8000` (the `/v1` prefix is added). */
    baseUrl: string;
    apiKey: string;
    /** A keep-alive agent shared by all requests of a run. */
    agent: Agent;
    /** The GenerateRequest body; `stream: true` is forced. */
    body: Record<string, unknown>;
};

/**
 * Sends one streaming `POST /v1/generate` and times it from the client's side: send, each SSE chunk
 * carrying non-empty text, and `[DONE]`. It uses `node:http` directly: a response `data` event is the
 * bytes one socket read returned, with no WHATWG stream, promise or TextDecoderStream hop between the
 * socket and the timestamp, so it adds the least to the figures it measures.
 * Never throws: failures (HTTP errors, `event: error`, a stream without `[DONE]` or usage) go into
 * `RequestRecord.error`.
 */
export function streamGenerate({ baseUrl, apiKey, agent, body }: StreamGenerateOptions): Promise<RequestRecord> {
    const payload = Buffer.from(JSON.stringify({ ...body, stream: true }));
    const url = new URL("/v1/generate", baseUrl);
    return new Promise((resolve) => {
        const chunkTimes: number[] = [];
        let outputTokens = 0;
        let settled = false;
        const start = performance.now();
        const finish = (error?: string): void => {
            if (settled) return;
            settled = true;
            const record: RequestRecord = { start, chunkTimes, end: performance.now(), outputTokens };
            if (error != null) record.error = error;
            resolve(record);
        };
        const req = request(
            url,
            {
                method: "POST",
                agent,
                headers: {
                    authorization: `Bearer ${apiKey}`,
                    "content-type": "application/json",
                    accept: "text/event-stream",
                    "content-length": payload.length
                }
            },
            (res) => {
                res.setEncoding("utf8"); // a StringDecoder: multi-byte characters split across reads stay whole
                if (res.statusCode !== 200) {
                    let text = "";
                    res.on("data", (piece: string) => (text += piece));
                    res.on("end", () => finish(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
                    return;
                }
                const parser = new SseParser();
                let sawUsage = false;
                res.on("data", (piece: string) => {
                    const now = performance.now();
                    for (const event of parser.push(piece)) {
                        if (event.event === "error") return finish(`stream error event: ${event.data.slice(0, 300)}`);
                        if (event.data === "[DONE]") {
                            if (!sawUsage) return finish("stream ended without usage in its last chunk");
                            return finish();
                        }
                        let chunk: { choices?: Array<{ text?: string }>; usage?: { completion_tokens?: number } };
                        try {
                            chunk = JSON.parse(event.data);
                        } catch {
                            return finish(`unparseable SSE data: ${event.data.slice(0, 100)}`);
                        }
                        if ((chunk.choices?.[0]?.text ?? "") !== "") chunkTimes.push(now);
                        if (chunk.usage?.completion_tokens != null) {
                            outputTokens = chunk.usage.completion_tokens;
                            sawUsage = true;
                        }
                    }
                });
                res.on("end", () => finish("stream closed without [DONE]"));
                res.on("error", (error) => finish(`response error: ${error.message}`));
            }
        );
        req.on("error", (error) => finish(`request error: ${error.message}`));
        req.end(payload);
    });
}
