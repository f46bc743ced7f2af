import type { FastifyReply, FastifyRequest } from "fastify";
import type { RoutePolicy } from "../http/access/RoutePolicy.js";
import { admitGeneration } from "./admit.js";
import type { GenerationDialect } from "./Dialect.js";
import type { InferenceDeps } from "./InferenceDeps.js";
import { RequestSignals } from "./RequestSignals.js";
import { collectRun, streamRun } from "./respond.js";

/**
 * The one request path for a generation, whatever the dialect: parse → admit → run → render.
 * A dialect brings only its parser and its renderer (see `Dialect.ts`).
 */
export function generationHandler<Body, Json>(
    deps: InferenceDeps,
    policy: RoutePolicy,
    dialect: GenerationDialect<Body, Json>
): (request: FastifyRequest, reply: FastifyReply) => Promise<Json | FastifyReply> {
    return async (request, reply) => {
        const body = request.body as Body;
        const parsed = dialect.parse(body, request);
        const signals = new RequestSignals(reply, deps.lifecycle);
        const run = await admitGeneration(deps, policy, parsed, request, reply, signals);
        const renderer = dialect.renderer(body, run);
        if (parsed.stream) return streamRun(reply, request, run, renderer.stream(), signals, deps.keepAliveMs, dialect.transport);
        return renderer.json(await collectRun(run, signals));
    };
}
