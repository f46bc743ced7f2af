import { Type, type Static } from "@sinclair/typebox";
import { BackendSchema } from "./GenerateResponseSchema.js";

export const ModelStatusSchema = Type.Union([Type.Literal("ready"), Type.Literal("loading"), Type.Literal("unloaded"), Type.Literal("error")]);
export type ModelStatus = Static<typeof ModelStatusSchema>;

export const ModelEntrySchema = Type.Object(
    {
        id: Type.String(),
        object: Type.Literal("model", { description: "OpenAI's model object fields: `object`, `created`, `owned_by`." }),
        created: Type.Integer({ description: "Model file mtime, Unix seconds." }),
        owned_by: Type.String(),
        status: ModelStatusSchema,
        metal_optimized: Type.Boolean({ description: "True only when layers are really offloaded to a GPU." }),
        memory_usage: Type.String({ description: 'Memory held by the loaded model and its context, human readable; "0B" when not loaded.' }),
        memory_bytes: Type.Integer(),
        aliases: Type.Array(Type.String()),
        context_size: Type.Integer({ description: "Tokens per sequence: prompt plus max_tokens must fit." }),
        parallel: Type.Integer({ description: "Sequences decoded together." }),
        backend: Type.Union([BackendSchema, Type.Null()], { description: "What the loaded model runs on; null when not loaded." }),
        gpu_layers: Type.Integer(),
        size_bytes: Type.Integer({ description: "Size of the model file." }),
        error: Type.Union([Type.String(), Type.Null()], { description: "Why the model is in the error state." }),
        busy_sequences: Type.Integer({ description: "Sequences generating now." }),
        estimated_bytes: Type.Union([Type.Integer(), Type.Null()], {
            description: "What a load is estimated to take (weights and context), from the file's header; null until first asked."
        }),
        last_used_at: Type.Union([Type.String(), Type.Null()], { description: "When the last request on it ended (ISO 8601); null before any." }),
        expires_at: Type.Union([Type.String(), Type.Null()], {
            description: "When the idle model unloads, by its keep-alive (ISO 8601); null while busy, not loaded, or kept loaded."
        }),
        sha256: Type.Union([Type.String(), Type.Null()], { description: "SHA-256 of the (first) file, recorded when Quandex pulled it; null for files copied in by hand." }),
        pulled_from: Type.Union([Type.String(), Type.Null()], { description: "The source Quandex pulled it from; null for files copied in by hand or configured." }),
        source: Type.Optional(Type.String({ description: "Only on models an upstream pool serves: `upstream:<pool>`." })),
        upstream: Type.Optional(
            Type.Object(
                {
                    pool: Type.String(),
                    healthy: Type.Integer({ description: "Endpoints taking requests now (up by the health check and not ejected)." }),
                    total: Type.Integer({ description: "Endpoints in the pool." })
                },
                { description: "Only on models an upstream pool serves: the pool's live state." }
            )
        )
    },
    {}
);
export type ModelEntry = Static<typeof ModelEntrySchema>;

export const OpenAIModelSchema = Type.Object(
    {
        id: Type.String(),
        object: Type.Literal("model"),
        created: Type.Integer({ description: "Model file mtime, Unix seconds." }),
        owned_by: Type.String()
    },
    {}
);

export const ModelListSchema = Type.Object(
    {
        models: Type.Array(ModelEntrySchema),
        object: Type.Literal("list"),
        data: Type.Array(OpenAIModelSchema, { description: "The same models in OpenAI's shape; aliases have their own entries." })
    },
    {}
);
export type ModelList = Static<typeof ModelListSchema>;

export const ModelIdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });
