import { Type, type Static } from "@sinclair/typebox";
import { generateLimits } from "../GenerateRequestSchema.js";
import { KeepAliveSchema } from "../../keepAlive.js";
import { Nullable, openaiLimits } from "./OpenAICommonSchema.js";

export const EmbeddingRequestSchema = Type.Object(
    {
        model: Type.String({ minLength: 1, maxLength: generateLimits.maxModelNameLength, description: "Model id or alias." }),
        input: Type.Union([Type.String(), Type.Array(Type.Unknown(), { minItems: 1, maxItems: openaiLimits.maxEmbeddingInputs })], {
            description: "A non-empty string, or a list of up to 256 of them. Token-id inputs are not supported."
        }),
        encoding_format: Type.Optional(
            Nullable(Type.Union([Type.Literal("float"), Type.Literal("base64")]), { description: "`base64` is little-endian float32. Defaults to float." })
        ),
        dimensions: Type.Optional(Nullable(Type.Integer({ minimum: 1 }), { description: "Not supported: only null (vectors have the model's size)." })),
        user: Type.Optional(Type.String({ maxLength: 256, description: "Accepted and ignored." })),
        keep_alive: Type.Optional(Nullable(KeepAliveSchema, { description: "Extension (Ollama): how long the model stays loaded after this request." }))
    },
    { additionalProperties: false }
);
export type EmbeddingRequest = Static<typeof EmbeddingRequestSchema>;

export const EmbeddingListSchema = Type.Object(
    {
        object: Type.Literal("list"),
        data: Type.Array(
            Type.Object({
                object: Type.Literal("embedding"),
                index: Type.Integer(),
                embedding: Type.Union([Type.Array(Type.Number()), Type.String()], { description: "Unit length. A base64 string with encoding_format base64." })
            })
        ),
        model: Type.String({ description: "The model's canonical id." }),
        usage: Type.Object({ prompt_tokens: Type.Integer(), total_tokens: Type.Integer() })
    },
    {}
);
export type EmbeddingList = Static<typeof EmbeddingListSchema>;
