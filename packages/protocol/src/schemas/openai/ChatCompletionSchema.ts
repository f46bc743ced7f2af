import { Type, type Static } from "@sinclair/typebox";
import { generateLimits } from "../GenerateRequestSchema.js";
import { Nullable, OpenAIFinishReasonSchema, OpenAIUsageSchema, openaiSamplingFields } from "./OpenAICommonSchema.js";

/**
 * A content part. Only `{"type": "text", "text": ...}` is supported; the schema accepts any `type`
 * so the server can say exactly which part it refuses instead of a generic schema error.
 */
export const ChatContentPartSchema = Type.Object(
    { type: Type.String(), text: Type.Optional(Type.String()) },
    { additionalProperties: true, description: "Only text parts are supported." }
);

export const ChatMessageSchema = Type.Object(
    {
        role: Type.String({ description: "system, developer (read as system), user or assistant." }),
        content: Nullable(Type.Union([Type.String(), Type.Array(ChatContentPartSchema)]), { description: "Text, or a list of text parts (joined)." }),
        name: Type.Optional(Type.String({ description: "Accepted and ignored." })),
        refusal: Type.Optional(Nullable(Type.String())),
        tool_calls: Type.Optional(Type.Unknown({ description: "Not supported." })),
        tool_call_id: Type.Optional(Type.Unknown({ description: "Not supported." })),
        function_call: Type.Optional(Type.Unknown({ description: "Not supported." }))
    },
    { additionalProperties: false }
);

export const ResponseFormatSchema = Type.Object(
    {
        type: Type.Union([Type.Literal("text"), Type.Literal("json_object"), Type.Literal("json_schema")]),
        json_schema: Type.Optional(
            Type.Object(
                {
                    name: Type.String({ minLength: 1, maxLength: 64 }),
                    description: Type.Optional(Type.String()),
                    schema: Type.Optional(Type.Object({}, { additionalProperties: true, description: "A JSON Schema in the subset the grammar enforces (docs/openai.md)." })),
                    strict: Type.Optional(Nullable(Type.Boolean({ description: "Accepted; output always follows the schema." })))
                },
                { additionalProperties: false }
            )
        )
    },
    { additionalProperties: false, description: "`json_object` and `json_schema` are enforced with a grammar while sampling." }
);
export type ResponseFormat = Static<typeof ResponseFormatSchema>;

export const ChatCompletionRequestSchema = Type.Object(
    {
        model: Type.String({ minLength: 1, maxLength: generateLimits.maxModelNameLength, description: "Model id or alias." }),
        messages: Type.Array(ChatMessageSchema, { minItems: 1, maxItems: 1024 }),
        max_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1 }), { description: "Most tokens to generate. Defaults to the room left in the context." })),
        max_completion_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1 }), { description: "The same as max_tokens (OpenAI's newer name)." })),
        response_format: Type.Optional(Nullable(ResponseFormatSchema)),
        ...openaiSamplingFields,
        logprobs: Type.Optional(Nullable(Type.Boolean({ description: "Not supported: only false or null." }))),
        top_logprobs: Type.Optional(Nullable(Type.Integer({ minimum: 0, description: "Not supported: only 0 or null." }))),
        tools: Type.Optional(Type.Unknown({ description: "Not supported: only null or []." })),
        tool_choice: Type.Optional(Type.Unknown({ description: "Only \"none\", \"auto\" or null (there are no tools)." })),
        parallel_tool_calls: Type.Optional(Type.Unknown({ description: "Accepted and ignored." })),
        functions: Type.Optional(Type.Unknown({ description: "Not supported: only null or []." })),
        function_call: Type.Optional(Type.Unknown({ description: "Only \"none\", \"auto\" or null." })),
        store: Type.Optional(Nullable(Type.Boolean({ description: "Not supported: only false or null (nothing is stored)." }))),
        metadata: Type.Optional(Nullable(Type.Record(Type.String(), Type.String()), { description: "Accepted and ignored." }))
    },
    { additionalProperties: false }
);
export type ChatCompletionRequest = Static<typeof ChatCompletionRequestSchema>;

export const ChatCompletionSchema = Type.Object(
    {
        id: Type.String({ description: "chatcmpl- followed by 24 hex digits." }),
        object: Type.Literal("chat.completion"),
        created: Type.Integer({ description: "Unix seconds." }),
        model: Type.String({ description: "The model's canonical id." }),
        choices: Type.Array(
            Type.Object({
                index: Type.Integer(),
                message: Type.Object({ role: Type.Literal("assistant"), content: Type.String(), refusal: Type.Null() }),
                logprobs: Type.Null(),
                finish_reason: OpenAIFinishReasonSchema
            })
        ),
        usage: OpenAIUsageSchema
    },
    {}
);
export type ChatCompletion = Static<typeof ChatCompletionSchema>;

export const ChatCompletionChunkSchema = Type.Object(
    {
        id: Type.String(),
        object: Type.Literal("chat.completion.chunk"),
        created: Type.Integer(),
        model: Type.String(),
        choices: Type.Array(
            Type.Object({
                index: Type.Integer(),
                delta: Type.Object({ role: Type.Optional(Type.Literal("assistant")), content: Type.Optional(Type.String()) }),
                logprobs: Type.Null(),
                finish_reason: Nullable(OpenAIFinishReasonSchema)
            }),
            { description: "Empty in the usage chunk." }
        ),
        usage: Type.Optional(Nullable(OpenAIUsageSchema, { description: "With stream_options.include_usage: null on every chunk but the last." }))
    },
    { description: "One `data:` event of a streamed chat completion." }
);
export type ChatCompletionChunk = Static<typeof ChatCompletionChunkSchema>;
