import type { FastifyInstance } from "fastify";
import type { TSchema } from "@sinclair/typebox";
import type { AccessGuard } from "../http/access/AccessGuard.js";
import { policies } from "../http/access/RoutePolicy.js";
import { errorResponses } from "../http/routes/errorResponses.js";
import type { EmbeddingDialect, GenerationDialect } from "./Dialect.js";
import { embeddingHandler } from "./embeddingHandler.js";
import { generationHandler } from "./generationHandler.js";
import type { InferenceDeps } from "./InferenceDeps.js";

/** What a dialect's inference route declares; its policy is always `policies.inference`. */
export interface InferenceRouteSpec<Dialect> {
    url: string;
    summary: string;
    description?: string;
    tags: string[];
    body: TSchema;
    /** The 200 answer's schema (a stream's chunks are described in `description`). */
    response: TSchema;
    dialect: Dialect;
}

/**
 * Declares one inference route of a dialect: `POST url`, guarded by `policies.inference` (key,
 * `generate` scope, rate limit; the daily quota at admission), validated by `body`, answered by
 * the one request path through `dialect`.
 */
export function generationRoute<Body, Json>(app: FastifyInstance, access: AccessGuard, deps: InferenceDeps, spec: InferenceRouteSpec<GenerationDialect<Body, Json>>): void {
    const policy = policies.inference;
    app.post<{ Body: Body }>(spec.url, { onRequest: access.guard(policy), schema: schemaOf(spec) }, generationHandler(deps, policy, spec.dialect));
}

/** Like {@link generationRoute}, for an embeddings route. */
export function embeddingRoute<Body, Json>(app: FastifyInstance, access: AccessGuard, deps: InferenceDeps, spec: InferenceRouteSpec<EmbeddingDialect<Body, Json>>): void {
    const policy = policies.inference;
    app.post<{ Body: Body }>(spec.url, { onRequest: access.guard(policy), schema: schemaOf(spec) }, embeddingHandler(deps, policy, spec.dialect));
}

function schemaOf(spec: InferenceRouteSpec<unknown>): object {
    return {
        summary: spec.summary,
        ...(spec.description !== undefined && { description: spec.description }),
        tags: spec.tags,
        body: spec.body,
        response: { 200: spec.response, ...errorResponses }
    };
}
