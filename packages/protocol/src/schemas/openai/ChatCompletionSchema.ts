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

/** A call the assistant made, as OpenAI carries it (in a request's history and in an answer). */
export const ToolCallSchema = Type.Object(
    {
        id: Type.String({ maxLength: 256 }),
        type: Type.Literal("function"),
        function: Type.Object(
            { name: Type.String({ minLength: 1, maxLength: 256 }), arguments: Type.String({ description: "The arguments as JSON text." }) },
            { additionalProperties: false }
        )
    },
    { additionalProperties: false }
);

/** A tool offered to the model; `parameters` is the JSON Schema of its arguments. */
export const ToolSchema = Type.Object(
    {
        type: Type.Literal("function"),
        function: Type.Object(
            {
                name: Type.String({ minLength: 1, maxLength: 64, pattern: "^[a-zA-Z0-9_.-]+$" }),
                description: Type.Optional(Type.String()),
                parameters: Type.Optional(Type.Object({}, { additionalProperties: true })),
                strict: Type.Optional(Nullable(Type.Boolean({ description: "Accepted; a required call always follows the schema where the grammar can enforce it." })))
            },
            { additionalProperties: false }
        )
    },
    { additionalProperties: false }
);

export const ToolChoiceSchema = Type.Union([
    Type.Literal("none"),
    Type.Literal("auto"),
    Type.Literal("required"),
    Type.Object(
        { type: Type.Literal("function"), function: Type.Object({ name: Type.String({ minLength: 1 }) }, { additionalProperties: false }) },
        { additionalProperties: false }
    )
]);

/** How a chat choice ended: OpenAI adds `tool_calls` to the completion reasons. */
export const ChatFinishReasonSchema = Type.Union([OpenAIFinishReasonSchema, Type.Literal("tool_calls")]);

export const ChatMessageSchema = Type.Object(
    {
        role: Type.String({ description: "system, developer (read as system), user, assistant or tool." }),
        content: Nullable(Type.Union([Type.String(), Type.Array(ChatContentPartSchema)]), { description: "Text, or a list of text parts (joined)." }),
        name: Type.Optional(Type.String({ description: "Accepted and ignored." })),
        refusal: Type.Optional(Nullable(Type.String())),
        tool_calls: Type.Optional(Nullable(Type.Array(ToolCallSchema, { maxItems: 128 }), { description: "An assistant turn's calls." })),
        tool_call_id: Type.Optional(Nullable(Type.String({ maxLength: 256 }), { description: "A tool turn: the call it answers." })),
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
        tools: Type.Optional(Nullable(Type.Array(ToolSchema, { maxItems: 128 }), { description: "Functions the model may call." })),
        tool_choice: Type.Optional(Nullable(ToolChoiceSchema, { description: "auto (default with tools), none, required, or a named function." })),
        parallel_tool_calls: Type.Optional(Type.Unknown({ description: "Accepted and ignored." })),
        functions: Type.Optional(Type.Unknown({ description: "Not supported: only null or []." })),
        function_call: Type.Optional(Type.Unknown({ description: 'Only "none", "auto" or null.' })),
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
                message: Type.Object({
                    role: Type.Literal("assistant"),
                    content: Nullable(Type.String(), { description: "null when the reply is only tool calls." }),
                    refusal: Type.Null(),
                    tool_calls: Type.Optional(Type.Array(ToolCallSchema))
                }),
                logprobs: Type.Null(),
                finish_reason: ChatFinishReasonSchema
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
                delta: Type.Object({
                    role: Type.Optional(Type.Literal("assistant")),
                    content: Type.Optional(Nullable(Type.String())),
                    tool_calls: Type.Optional(
                        Type.Array(
                            Type.Object({
                                index: Type.Integer(),
                                id: Type.Optional(Type.String()),
                                type: Type.Optional(Type.Literal("function")),
                                function: Type.Object({ name: Type.Optional(Type.String()), arguments: Type.Optional(Type.String()) })
                            })
                        )
                    )
                }),
                logprobs: Type.Null(),
                finish_reason: Nullable(ChatFinishReasonSchema)
            }),
            { description: "Empty in the usage chunk." }
        ),
        usage: Type.Optional(Nullable(OpenAIUsageSchema, { description: "With stream_options.include_usage: null on every chunk but the last." }))
    },
    { description: "One `data:` event of a streamed chat completion." }
);
export type ChatCompletionChunk = Static<typeof ChatCompletionChunkSchema>;
