import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { KeepAliveSchema } from "../../keepAlive.js";
import { generateLimits } from "../GenerateRequestSchema.js";

/** OpenAI clients send `null` for "use the default" on most optional fields; accept it. */
export function Nullable<T extends TSchema>(schema: T, options: { description?: string } = {}) {
    return Type.Union([schema, Type.Null()], options);
}

export const openaiLimits = {
    /** Prompts per `/v1/completions` request (one choice each). */
    maxPrompts: 16,
    /** Inputs per `/v1/embeddings` request. */
    maxEmbeddingInputs: 256,
    /** Default `max_tokens` of `/v1/completions`, as OpenAI documents it. */
    completionsDefaultMaxTokens: 16
} as const;

export const OpenAIFinishReasonSchema = Type.Union([Type.Literal("stop"), Type.Literal("length")]);

export const OpenAIUsageSchema = Type.Object(
    {
        prompt_tokens: Type.Integer({ description: "Tokens evaluated for the prompt(s), template and BOS included." }),
        completion_tokens: Type.Integer({ description: "Tokens sampled, end-of-turn markers excluded." }),
        total_tokens: Type.Integer(),
        prompt_tokens_details: Type.Object(
            { cached_tokens: Type.Integer({ description: "Prompt tokens whose evaluation was reused from an earlier request (the prompt cache), counted in prompt_tokens too." }) },
            {}
        )
    },
    {}
);
export type OpenAIUsage = Static<typeof OpenAIUsageSchema>;

const stopString = Type.String({ minLength: 1, maxLength: generateLimits.maxStopSequenceLength });

/** The sampling fields `/v1/chat/completions` and `/v1/completions` share, with their OpenAI ranges. */
export const openaiSamplingFields = {
    temperature: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 2 }), { description: "Sampling temperature; 0 is greedy. Defaults to 0.8." })),
    top_p: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 1 }), { description: "Nucleus sampling. Defaults to 0.95." })),
    stop: Type.Optional(
        Nullable(Type.Union([stopString, Type.Array(stopString, { maxItems: generateLimits.maxStopSequences })]), {
            description: "Up to 16 strings that end the generation; they are not included in the output."
        })
    ),
    seed: Type.Optional(
        Nullable(Type.Integer({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }), {
            description: "Sampling seed: the same seed, request and model give the same output when the request runs alone. Reduced modulo 2^32."
        })
    ),
    stream: Type.Optional(Nullable(Type.Boolean(), { description: "Stream server-sent events, then `data: [DONE]`. Defaults to false." })),
    stream_options: Type.Optional(
        Nullable(
            Type.Object(
                {
                    include_usage: Type.Optional(Type.Boolean({ description: "Send a last chunk with empty `choices` and the usage." })),
                    include_obfuscation: Type.Optional(Type.Boolean({ description: "Accepted and ignored: Quandex adds no obfuscation padding." }))
                },
                { additionalProperties: false }
            )
        )
    ),
    n: Type.Optional(Nullable(Type.Integer({ minimum: 1 }), { description: "Only 1 is supported." })),
    presence_penalty: Type.Optional(
        Nullable(Type.Number({ minimum: -2, maximum: 2 }), { description: "Penalty for tokens already present in the last 64 generated tokens. Defaults to 0." })
    ),
    frequency_penalty: Type.Optional(Nullable(Type.Number({ minimum: -2, maximum: 2 }), { description: "Penalty by count in the last 64 generated tokens. Defaults to 0." })),
    logit_bias: Type.Optional(Nullable(Type.Record(Type.String(), Type.Number()), { description: "Not supported: only null or {} is accepted." })),
    user: Type.Optional(Type.String({ maxLength: 256, description: "An end-user id; accepted and ignored." })),
    top_k: Type.Optional(Nullable(Type.Integer({ minimum: 0 }), { description: "Extension (llama.cpp): top-k sampling; 0 disables. Defaults to 40." })),
    repeat_penalty: Type.Optional(
        Nullable(Type.Number({ minimum: 0, maximum: 10 }), { description: "Extension (llama.cpp): repetition penalty over the last 64 tokens; 1 disables. Defaults to 1." })
    ),
    keep_alive: Type.Optional(Nullable(KeepAliveSchema, { description: "Extension (Ollama): how long the model stays loaded after this request." })),
    ignore_eos: Type.Optional(Nullable(Type.Boolean(), { description: "Extension (llama.cpp): keep generating past end-of-sequence (benchmarks). Defaults to false." }))
};
