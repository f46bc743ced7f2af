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
        memory_usage: Type.String({ description: "Memory held by the loaded model and its context, human readable; \"0B\" when not loaded." }),
        memory_bytes: Type.Integer(),
        aliases: Type.Array(Type.String()),
        context_size: Type.Integer({ description: "Tokens per sequence: prompt plus max_tokens must fit." }),
        parallel: Type.Integer({ description: "Sequences decoded together." }),
        backend: Type.Union([BackendSchema, Type.Null()], { description: "What the loaded model runs on; null when not loaded." }),
        gpu_layers: Type.Integer(),
        size_bytes: Type.Integer({ description: "Size of the model file." }),
        error: Type.Union([Type.String(), Type.Null()], { description: "Why the model is in the error state." })
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
