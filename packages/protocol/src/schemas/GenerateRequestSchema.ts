import { Type, type Static } from "@sinclair/typebox";
import { KeepAliveSchema } from "../keepAlive.js";

/** Limits on request fields; the README documents them from here. */
export const generateLimits = {
    maxModelNameLength: 256,
    maxStopSequences: 16,
    maxStopSequenceLength: 256,
    maxSeed: 4294967295
} as const;

export const GenerateRequestSchema = Type.Object(
    {
        model: Type.String({ minLength: 1, maxLength: generateLimits.maxModelNameLength, description: "Model id or alias." }),
        prompt: Type.String({ description: "The text to continue. A BOS token is prepended when the model expects one." }),
        temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2, description: "Sampling temperature; 0 is greedy. Defaults to 0.8." })),
        max_tokens: Type.Optional(Type.Integer({ minimum: 1, description: "Most tokens to generate. Defaults to the room left in the model's context." })),
        metal_optimize: Type.Optional(Type.Boolean({ description: "Prefer the accelerator (Metal, CUDA or Vulkan). A preference: metal_stats.backend says what ran." })),
        stream: Type.Optional(Type.Boolean({ description: "Stream tokens as server-sent events. Defaults to false." })),
        top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: "Nucleus sampling. Defaults to 0.95." })),
        top_k: Type.Optional(Type.Integer({ minimum: 0, description: "Top-k sampling; 0 disables. Defaults to 40." })),
        stop: Type.Optional(
            Type.Union(
                [
                    Type.String({ minLength: 1, maxLength: generateLimits.maxStopSequenceLength }),
                    Type.Array(Type.String({ minLength: 1, maxLength: generateLimits.maxStopSequenceLength }), {
                        maxItems: generateLimits.maxStopSequences
                    })
                ],
                { description: "A string or list of strings that end generation; they are not included in the text." }
            )
        ),
        seed: Type.Optional(Type.Integer({ minimum: 0, maximum: generateLimits.maxSeed, description: "Sampling seed, for reproducible output. Defaults to random." })),
        repeat_penalty: Type.Optional(Type.Number({ minimum: 0, maximum: 10, description: "Repetition penalty; 1 disables. Defaults to 1." })),
        ignore_eos: Type.Optional(Type.Boolean({ description: "Keep generating past end-of-sequence (benchmarks). Defaults to false." })),
        keep_alive: Type.Optional(KeepAliveSchema)
    },
    { additionalProperties: false }
);
export type GenerateRequest = Static<typeof GenerateRequestSchema>;
