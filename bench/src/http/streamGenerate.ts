import type { Agent } from "node:http";
import type { RequestRecord } from "../metrics.js";
import { timedSseRequest } from "./timedSseRequest.js";

export type StreamGenerateOptions = {
    /** Server origin, e.g. `http://127.0.0.1:8000` (the `/v1` prefix is added). */
    baseUrl: string;
    apiKey: string;
    /** A keep-alive agent shared by all requests of a run. */
    agent: Agent;
    /** The GenerateRequest body; `stream: true` is forced. */
    body: Record<string, unknown>;
};

type GenerateChunk = { choices?: Array<{ text?: string }>; usage?: { completion_tokens?: number } };

/**
 * One streaming `POST /v1/generate`, timed at the client: each chunk with non-empty text, and
 * `[DONE]`, which must follow a chunk with usage. An `event: error` fails the request.
 */
export function streamGenerate({ baseUrl, apiKey, agent, body }: StreamGenerateOptions): Promise<RequestRecord> {
    let sawUsage = false;
    return timedSseRequest({
        url: new URL("/v1/generate", baseUrl),
        agent,
        headers: { authorization: `Bearer ${apiKey}`, accept: "text/event-stream" },
        payload: Buffer.from(JSON.stringify({ ...body, stream: true })),
        endedEarly: "stream closed without [DONE]",
        onEvent(event, json, stream) {
            if (event.event === "error") return stream.finish(`stream error event: ${event.data.slice(0, 300)}`);
            if (json === undefined) return stream.finish(sawUsage ? undefined : "stream ended without usage in its last chunk");
            const chunk = json as GenerateChunk;
            if ((chunk.choices?.[0]?.text ?? "") !== "") stream.text();
            if (chunk.usage?.completion_tokens != null) {
                stream.outputTokens(chunk.usage.completion_tokens);
                sawUsage = true;
            }
        }
    });
}
