import type { InferenceRun } from "../inference/InferenceRun.js";

declare module "fastify" {
    interface FastifyRequest {
        /** What the request path learned about this request, for its log line and `/metrics` (set by `RequestObserver`). */
        trace: RequestTrace | null;
    }
}

/**
 * What one request's log line and metrics need that Fastify does not know: the model, the run (its
 * token counts, queue wait, first-token time, finish reasons) and the catalogue code it failed
 * with. The request path fills it as it goes; `RequestObserver` reads it once, when the response
 * closes.
 */
export class RequestTrace {
    model: string | null = null;
    run: InferenceRun | null = null;
    /** Embeddings: the input tokens (a generation's counts are on `run`). */
    promptTokens: number | null = null;
    /** The catalogue code of the error this request answered with (or sent in-band mid-stream). */
    errorCode: string | null = null;
    /** What was asked, only with `server.log_prompts: true`. */
    prompt: unknown = undefined;

    constructor(
        /** An `x-request-id` the client sent, kept apart from the server's own id. */
        readonly clientRequestId: string | null
    ) {}
}
