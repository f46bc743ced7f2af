import type { FastifyInstance } from "fastify";
import { ChatCompletionRequestSchema, ChatCompletionSchema, CompletionRequestSchema, CompletionSchema, EmbeddingListSchema, EmbeddingRequestSchema } from "@quandex/protocol";
import type { AccessGuard } from "../../http/access/AccessGuard.js";
import type { InferenceDeps } from "../../inference/InferenceDeps.js";
import { embeddingRoute, generationRoute } from "../../inference/inferenceRoutes.js";
import { chatCompletionDialect } from "./chatCompletionDialect.js";
import { completionDialect } from "./completionDialect.js";
import { embeddingDialect } from "./embeddingDialect.js";

/**
 * The OpenAI dialect: parsers and renderers at the edge of the one request path, with the same
 * keys, scopes, limits, queue and stats as `/v1/generate`. `GET /v1/models` and
 * `GET /v1/models/{id}` already answer in both dialects (modelsRoutes). See docs/openai.md.
 */
export function openaiRoutes(app: FastifyInstance, access: AccessGuard, deps: InferenceDeps): void {
    const tags = ["openai"];
    generationRoute(app, access, deps, {
        url: "/v1/chat/completions",
        summary: "OpenAI-compatible chat completion",
        description: "With `stream: true` the answer is text/event-stream: chat.completion.chunk events, then `data: [DONE]`. See docs/openai.md.",
        tags,
        body: ChatCompletionRequestSchema,
        response: ChatCompletionSchema,
        dialect: chatCompletionDialect
    });
    generationRoute(app, access, deps, {
        url: "/v1/completions",
        summary: "OpenAI-compatible text completion",
        description: "With `stream: true` the answer is text/event-stream: text_completion chunks, then `data: [DONE]`. See docs/openai.md.",
        tags,
        body: CompletionRequestSchema,
        response: CompletionSchema,
        dialect: completionDialect
    });
    embeddingRoute(app, access, deps, {
        url: "/v1/embeddings",
        summary: "OpenAI-compatible embeddings",
        description: "Vectors are unit length, so a dot product is the cosine similarity. See docs/openai.md for their quality on small models.",
        tags,
        body: EmbeddingRequestSchema,
        response: EmbeddingListSchema,
        dialect: embeddingDialect
    });
}
