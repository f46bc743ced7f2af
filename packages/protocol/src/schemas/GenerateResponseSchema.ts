import { Type, type Static } from "@sinclair/typebox";

export const FinishReasonSchema = Type.Union([Type.Literal("stop"), Type.Literal("length")]);
export type FinishReason = Static<typeof FinishReasonSchema>;

export const BackendSchema = Type.Union([Type.Literal("metal"), Type.Literal("cuda"), Type.Literal("vulkan"), Type.Literal("cpu")]);
export type Backend = Static<typeof BackendSchema>;

export const UsageSchema = Type.Object(
    {
        prompt_tokens: Type.Integer({ description: "Tokens evaluated for the prompt, BOS included." }),
        completion_tokens: Type.Integer({ description: "Tokens sampled, the end-of-generation token excluded." }),
        total_tokens: Type.Integer()
    },
    {}
);
export type Usage = Static<typeof UsageSchema>;

export const MetalStatsSchema = Type.Object(
    {
        backend: Type.Union([BackendSchema, Type.Null()], { description: "What ran the model; null for a model an upstream pool serves (it does not say)." }),
        mps_allocated: Type.Union([Type.String(), Type.Null()], {
            description: 'Accelerator memory allocated for the model, human readable; "0B" on CPU; null for an upstream model.'
        }),
        mps_allocated_bytes: Type.Union([Type.Integer(), Type.Null()], { description: "Null for an upstream model." }),
        batch_size: Type.Integer({ description: "Largest number of sequences decoded together in one batch while this request ran." }),
        processing_time: Type.String({ description: "Measured wall time, human readable." }),
        processing_time_ms: Type.Number(),
        queue_time_ms: Type.Number({ description: "Time spent waiting for a free sequence." }),
        tokens_per_second: Type.Number({ description: "Completion tokens per second of generation time." }),
        cached_tokens: Type.Integer({
            description: "Prompt tokens reused from the prompt cache (an earlier request's evaluation), not evaluated again; counted in usage.prompt_tokens."
        }),
        gpu_layers: Type.Union([Type.Integer(), Type.Null()], { description: "Layers offloaded to the accelerator; null for an upstream model." })
    },
    {}
);
export type MetalStats = Static<typeof MetalStatsSchema>;

export const GenerateResponseSchema = Type.Object(
    {
        id: Type.String({ description: "gen_ followed by a random id." }),
        model: Type.String({ description: "The model name the client asked for (id or alias)." }),
        choices: Type.Array(Type.Object({ text: Type.String(), finish_reason: FinishReasonSchema })),
        usage: UsageSchema,
        metal_stats: MetalStatsSchema
    },
    {}
);
export type GenerateResponse = Static<typeof GenerateResponseSchema>;

/** One server-sent event of a streamed generation; the last carries finish_reason, usage and metal_stats. */
export const GenerateChunkSchema = Type.Object(
    {
        id: Type.String(),
        model: Type.String(),
        choices: Type.Array(Type.Object({ text: Type.String(), finish_reason: Type.Union([FinishReasonSchema, Type.Null()]) })),
        usage: Type.Optional(UsageSchema),
        metal_stats: Type.Optional(MetalStatsSchema)
    },
    {}
);
export type GenerateChunk = Static<typeof GenerateChunkSchema>;
