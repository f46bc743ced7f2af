import type { FastifyInstance } from "fastify";
import { EmbeddingListSchema, EmbeddingRequestSchema, QuandexError, type EmbeddingList, type EmbeddingRequest } from "@quandex/protocol";
import { errorResponses } from "../errorResponses.js";
import { requestSignal } from "../requestSignal.js";
import type { OpenAIRouteDeps } from "./OpenAIRouteDeps.js";
import { inputsFromOpenAI } from "./toNative.js";

/**
 * `POST /v1/embeddings`: the model's embedding context computes one unit-length vector per input,
 * on a sequence slot from the scheduler like a generation, so embeddings share the queue and stats.
 * The official Node client asks for base64 unless told otherwise, so both encodings are served.
 */
export function embeddingsRoute(app: FastifyInstance, deps: OpenAIRouteDeps): void {
    app.post<{ Body: EmbeddingRequest }>(
        "/v1/embeddings",
        {
            config: { scope: "generate" },
            schema: {
                summary: "OpenAI-compatible embeddings",
                description: "Vectors are unit length, so a dot product is the cosine similarity. See docs/openai.md for their quality on small models.",
                tags: ["openai"],
                body: EmbeddingRequestSchema,
                response: { 200: EmbeddingListSchema, ...errorResponses }
            }
        },
        async (request, reply) => {
            const body = request.body;
            const input = inputsFromOpenAI(body);
            const signal = requestSignal(request, reply, deps.lifecycle);
            const prepared = await deps.service.prepareEmbeddings({ model: body.model, input }, signal);
            const admission = await deps.hooks.admit(request, reply);
            let result;
            try {
                result = await prepared.run();
            } catch (error) {
                if (error instanceof QuandexError && error.status === 503) await admission.refund();
                const reason: unknown = signal.reason;
                if (signal.aborted) throw reason instanceof QuandexError ? reason : new QuandexError("internal_error", { detail: "the client closed the connection." });
                throw error;
            }
            await admission.complete({ promptTokens: result.promptTokens, completionTokens: 0 });
            const base64 = body.encoding_format === "base64";
            return {
                object: "list",
                data: result.vectors.map((vector, index) => ({ object: "embedding" as const, index, embedding: base64 ? float32Base64(vector) : vector })),
                model: prepared.definition.id,
                usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens }
            } satisfies EmbeddingList;
        }
    );
}

/** OpenAI's base64 encoding: the vector's float32 values, little-endian, base64-encoded. */
function float32Base64(vector: readonly number[]): string {
    const bytes = Buffer.alloc(vector.length * 4);
    vector.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
    return bytes.toString("base64");
}
