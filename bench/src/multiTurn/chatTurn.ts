import { request, type Agent } from "node:http";
import { ServerSentEventDecoder } from "@quandex/protocol/sse";

export type ChatMessage = { role: "system" | "user" | "assistant"; content: string };

/** One streamed chat turn, from the client's side. */
export type TurnRecord = {
    /** Send to the first chunk with content, ms. */
    ttftMs: number;
    /** Send to the end of the stream, ms. */
    e2eMs: number;
    /** The assistant's reply, as streamed. */
    text: string;
    /** Tokens generated (the final usage), or the content chunks seen when the server gives no usage. */
    outputTokens: number;
    /** Prompt tokens the server counted (`usage.prompt_tokens`), or `null` when it did not say. */
    promptTokens: number | null;
    /** Prompt tokens it reused from its cache (`usage.prompt_tokens_details.cached_tokens`, or llama-server's `timings.cache_n`). */
    cachedTokens: number | null;
    error?: string;
};

type ChatChunk = {
    choices?: Array<{ delta?: { content?: string | null } }>;
    usage?: { prompt_tokens?: number; completion_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } } | null;
    timings?: { cache_n?: number; prompt_n?: number };
    error?: unknown;
};

/**
 * One `POST /v1/chat/completions` with `stream: true` (Quandex and llama-server both serve it),
 * timed with `node:http` so nothing but the socket stands between the bytes and the clock. Never
 * throws: a failure is the record's `error`.
 */
export function chatTurn(options: { url: URL; apiKey: string | null; agent: Agent | false; model: string; messages: ChatMessage[]; maxTokens: number }): Promise<TurnRecord> {
    const payload = Buffer.from(
        JSON.stringify({
            model: options.model,
            messages: options.messages,
            max_tokens: options.maxTokens,
            temperature: 0,
            ignore_eos: true,
            stream: true,
            stream_options: { include_usage: true }
        })
    );
    return new Promise((resolve) => {
        const start = performance.now();
        let first = 0;
        let text = "";
        let chunks = 0;
        let usage: ChatChunk["usage"] = null;
        let timings: ChatChunk["timings"];
        let settled = false;
        const finish = (error?: string): void => {
            if (settled) return;
            settled = true;
            const end = performance.now();
            const record: TurnRecord = {
                ttftMs: first === 0 ? end - start : first - start,
                e2eMs: end - start,
                text,
                outputTokens: usage?.completion_tokens ?? chunks,
                promptTokens: usage?.prompt_tokens ?? timings?.prompt_n ?? null,
                cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? timings?.cache_n ?? null
            };
            if (error !== undefined) record.error = error;
            resolve(record);
            if (error !== undefined) req.destroy();
        };
        const headers: Record<string, string> = { "content-type": "application/json", "content-length": String(payload.length), accept: "text/event-stream" };
        if (options.apiKey !== null) headers.authorization = `Bearer ${options.apiKey}`;
        const req = request(options.url, { method: "POST", agent: options.agent, headers }, (res) => {
            if (res.statusCode !== 200) {
                let body = "";
                res.setEncoding("utf8");
                res.on("data", (piece: string) => (body += piece));
                res.on("end", () => finish(`HTTP ${res.statusCode}: ${body.slice(0, 300)}`));
                return;
            }
            const decoder = new ServerSentEventDecoder();
            res.on("data", (bytes: Buffer) => {
                const now = performance.now();
                for (const event of decoder.decode(bytes)) {
                    if (settled) return;
                    if (event.event === "error") return finish(`error event: ${event.data.slice(0, 300)}`);
                    if (event.data === "[DONE]") return finish();
                    let chunk: ChatChunk;
                    try {
                        chunk = JSON.parse(event.data) as ChatChunk;
                    } catch {
                        return finish(`unparseable SSE data: ${event.data.slice(0, 100)}`);
                    }
                    // llama-server reports a failure mid-stream as a data chunk with `error` and then closes.
                    if (chunk.error !== undefined) return finish(`error chunk: ${JSON.stringify(chunk.error).slice(0, 300)}`);
                    const content = chunk.choices?.[0]?.delta?.content ?? "";
                    if (content !== "") {
                        if (first === 0) first = now;
                        text += content;
                        chunks++;
                    }
                    if (chunk.usage) usage = chunk.usage;
                    if (chunk.timings) timings = chunk.timings;
                }
            });
            res.on("end", () => finish("stream closed without [DONE]"));
            res.on("error", (error) => finish(`response error: ${error.message}`));
        });
        req.on("error", (error) => finish(`request error: ${error.message}`));
        req.end(payload);
    });
}
