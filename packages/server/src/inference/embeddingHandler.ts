import type { FastifyReply, FastifyRequest } from "fastify";
import { QuandexError } from "@quandex/protocol";
import type { RoutePolicy } from "../http/access/RoutePolicy.js";
import { admitEmbedding } from "./admit.js";
import type { EmbeddingDialect } from "./Dialect.js";
import type { InferenceDeps } from "./InferenceDeps.js";
import { RequestSignals } from "./RequestSignals.js";

/**
 * The one request path for embeddings: parse → admit → run (a sequence slot from the scheduler,
 * like a generation, so embeddings share the queue, its limits and the per-model stats) → render.
 */
export function embeddingHandler<Body, Json>(
    deps: InferenceDeps,
    policy: RoutePolicy,
    dialect: EmbeddingDialect<Body, Json>
): (request: FastifyRequest, reply: FastifyReply) => Promise<Json> {
    return async (request, reply) => {
        const body = request.body as Body;
        const parsed = dialect.parse(body, request);
        const signals = new RequestSignals(reply, deps.lifecycle);
        const { prepared, admission } = await admitEmbedding(deps, policy, parsed, request, reply, signals);
        let result;
        try {
            result = await prepared.run();
        } catch (error) {
            // Refused before it ran (queue full, timeout, shutdown): give the quota back.
            if (error instanceof QuandexError && error.status === 503) await admission.refund();
            const reason: unknown = signals.request.reason;
            if (signals.request.aborted) throw reason;
            throw error;
        }
        await admission.complete({ promptTokens: result.promptTokens, completionTokens: 0 });
        if (request.trace) request.trace.promptTokens = result.promptTokens;
        return dialect.render(body, prepared.definition.id, result);
    };
}
