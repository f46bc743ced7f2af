import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { InferenceService, ModelPull, PullState } from "@quandex/engine";
import { isErrorCode, PullIdParamsSchema, PullListSchema, PullRequestSchema, PullSchema, QuandexError, type Pull, type PullRequest } from "@quandex/protocol";
import { RequestSignals } from "../../inference/RequestSignals.js";
import { sendEventStream } from "../../streaming/eventStream.js";
import { dataFrame, doneFrame } from "../../streaming/sseFrames.js";
import type { AccessGuard } from "../access/AccessGuard.js";
import { policies } from "../access/RoutePolicy.js";
import type { Lifecycle } from "../Lifecycle.js";
import { errorResponses } from "./errorResponses.js";
import { pullUpdates } from "./pullUpdates.js";

/**
 * Pulling models into the models dir, for admin keys: `POST /v1/models/pull` resolves the source
 * (a bad or unknown one is an HTTP error at once) and answers 202 with the pull, or with
 * `stream: true` streams its progress as server-sent events until `ready` or an in-band error.
 */
export function pullRoutes(app: FastifyInstance, access: AccessGuard, deps: { service: InferenceService; lifecycle: Lifecycle; keepAliveMs: number }): void {
    const { service } = deps;
    const tags = ["models"];
    const onRequest = access.guard(policies.admin);

    app.post<{ Body: PullRequest }>(
        "/v1/models/pull",
        {
            onRequest,
            schema: {
                summary: "Pull a model from Hugging Face or a URL into the models dir",
                description:
                    "Answers 202 with the pull once the source is resolved; poll GET /v1/models/pulls/{id}. With `stream: true`, text/event-stream of Pull objects (status, total_bytes, downloaded_bytes, bytes_per_second), ending with `ready` then `data: [DONE]`, or an `event: error` frame. Two pulls of one source share one download.",
                tags,
                body: PullRequestSchema,
                response: { 202: PullSchema, ...errorResponses }
            }
        },
        async (request, reply) => {
            const { source, id, stream } = request.body;
            const signals = new RequestSignals(reply, deps.lifecycle);
            const pull = await service.pull(source, { ...(id !== undefined && { id }), signal: signals.request });
            if (stream === true) return streamProgress(request, reply, pull, signals, deps.keepAliveMs);
            return reply.code(202).send(pullJson(pull.snapshot()));
        }
    );

    app.get(
        "/v1/models/pulls",
        { onRequest, schema: { summary: "Pulls running and recently finished", tags, response: { 200: PullListSchema, ...errorResponses } } },
        async () => ({ object: "list" as const, data: service.pulls().map(pullJson) })
    );

    app.get<{ Params: { id: string } }>(
        "/v1/models/pulls/:id",
        { onRequest, schema: { summary: "One pull's progress", tags, params: PullIdParamsSchema, response: { 200: PullSchema, ...errorResponses } } },
        async (request) => pullJson(service.pullById(request.params.id).snapshot())
    );
}

/**
 * Progress as SSE: the state now, then one event per change (at most one every 250 ms while
 * downloading), the last one `ready` and `[DONE]`; a failed pull ends with an `event: error` frame
 * carrying the pull's error. Closing the stream leaves the pull running.
 */
function streamProgress(request: FastifyRequest, reply: FastifyReply, pull: ModelPull, signals: RequestSignals, keepAliveMs: number): FastifyReply {
    async function* frames(): AsyncGenerator<string> {
        for await (const state of pullUpdates(pull)) {
            if (state.status === "error") throw pullError(state);
            yield dataFrame(pullJson(state));
            if (state.status === "ready") yield doneFrame;
        }
    }
    return sendEventStream(reply, request, frames(), signals.request, keepAliveMs);
}

function pullError(state: PullState): QuandexError {
    const error = state.error;
    const code = error && isErrorCode(error.code) ? error.code : "download_failed";
    return new QuandexError(code, { source: state.source, detail: "the pull failed." }, { ...(error && { message: error.message, param: error.param }) });
}

function pullJson(state: PullState): Pull {
    return {
        id: state.id,
        object: "model.pull",
        source: state.source,
        model: state.model,
        status: state.status,
        total_bytes: state.totalBytes,
        downloaded_bytes: state.downloadedBytes,
        bytes_per_second: state.bytesPerSecond,
        sha256: state.sha256,
        already_present: state.alreadyPresent,
        error: state.error,
        started_at: state.startedAt,
        finished_at: state.finishedAt
    };
}
