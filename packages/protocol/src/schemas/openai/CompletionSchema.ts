import { Type, type Static } from "@sinclair/typebox";
import { generateLimits } from "../GenerateRequestSchema.js";
import { Nullable, OpenAIFinishReasonSchema, OpenAIUsageSchema, openaiLimits, openaiSamplingFields } from "./OpenAICommonSchema.js";

export const CompletionRequestSchema = Type.Object(
    {
        model: Type.String({ minLength: 1, maxLength: generateLimits.maxModelNameLength, description: "Model id or alias." }),
        prompt: Type.Union([Type.String(), Type.Array(Type.Unknown(), { minItems: 1, maxItems: openaiLimits.maxPrompts })], {
            description: "A string, or a list of up to 16 strings (one choice each). Token-id prompts are not supported."
        }),
        max_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1 }), { description: "Most tokens to generate per prompt. Defaults to 16, as at OpenAI." })),
        echo: Type.Optional(Nullable(Type.Boolean({ description: "Put the prompt in front of the completion. Defaults to false." }))),
        suffix: Type.Optional(Nullable(Type.String({ description: 'Not supported: only null or "".' }))),
        best_of: Type.Optional(Nullable(Type.Integer({ minimum: 1, description: "Only 1 is supported." }))),
        logprobs: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 5, description: "Not supported: only null." }))),
        ...openaiSamplingFields
    },
    { additionalProperties: false }
);
export type CompletionRequest = Static<typeof CompletionRequestSchema>;

export const CompletionSchema = Type.Object(
    {
        id: Type.String({ description: "cmpl- followed by 24 hex digits." }),
        object: Type.Literal("text_completion"),
        created: Type.Integer({ description: "Unix seconds." }),
        model: Type.String({ description: "The model's canonical id." }),
        choices: Type.Array(
            Type.Object({
                text: Type.String(),
                index: Type.Integer({ description: "The prompt's position in `prompt`." }),
                logprobs: Type.Null(),
                finish_reason: OpenAIFinishReasonSchema
            })
        ),
        usage: OpenAIUsageSchema
    },
    {}
);
export type Completion = Static<typeof CompletionSchema>;

export const CompletionChunkSchema = Type.Object(
    {
        id: Type.String(),
        object: Type.Literal("text_completion"),
        created: Type.Integer(),
        model: Type.String(),
        choices: Type.Array(Type.Object({ text: Type.String(), index: Type.Integer(), logprobs: Type.Null(), finish_reason: Nullable(OpenAIFinishReasonSchema) }), {
            description: "Empty in the usage chunk."
        }),
        usage: Type.Optional(Nullable(OpenAIUsageSchema, { description: "With stream_options.include_usage: null on every chunk but the last." }))
    },
    { description: "One `data:` event of a streamed completion." }
);
export type CompletionChunk = Static<typeof CompletionChunkSchema>;
