import type { FastifyInstance } from "fastify";
import { chatCompletionsRoute } from "./chatCompletionsRoute.js";
import { completionsRoute } from "./completionsRoute.js";
import { embeddingsRoute } from "./embeddingsRoute.js";
import type { OpenAIRouteDeps } from "./OpenAIRouteDeps.js";

/**
 * The OpenAI dialect: translators at the edge onto the one native path (`InferenceService`), with
 * the same auth, scopes, limits, queue and stats as `/v1/generate`. `GET /v1/models` and
 * `GET /v1/models/{id}` already answer in both dialects (modelsRoutes). See docs/openai.md.
 */
export function openaiRoutes(app: FastifyInstance, deps: OpenAIRouteDeps): void {
    chatCompletionsRoute(app, deps);
    completionsRoute(app, deps);
    embeddingsRoute(app, deps);
}

export type { OpenAIRouteDeps };
