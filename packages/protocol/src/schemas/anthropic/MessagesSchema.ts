import { Type, type Static } from "@sinclair/typebox";
import { KeepAliveSchema } from "../../keepAlive.js";
import { generateLimits } from "../GenerateRequestSchema.js";

/**
 * Anthropic's Messages API (`POST /v1/messages`), as its SDKs send it. Content blocks are typed
 * loosely here (any `type`, extra fields allowed) so the parser can name the exact block it
 * refuses (an image, a document) instead of a generic schema error.
 */
export const AnthropicContentBlockSchema = Type.Object(
    {
        type: Type.String({ description: "text, tool_use or tool_result; images and documents are refused." }),
        text: Type.Optional(Type.String()),
        id: Type.Optional(Type.String({ maxLength: 256 })),
        name: Type.Optional(Type.String({ maxLength: 256 })),
        input: Type.Optional(Type.Unknown()),
        tool_use_id: Type.Optional(Type.String({ maxLength: 256 })),
        content: Type.Optional(Type.Unknown()),
        is_error: Type.Optional(Type.Boolean())
    },
    { additionalProperties: true }
);

export const AnthropicMessageParamSchema = Type.Object(
    {
        role: Type.Union([Type.Literal("user"), Type.Literal("assistant")]),
        content: Type.Union([Type.String(), Type.Array(AnthropicContentBlockSchema, { maxItems: 1024 })])
    },
    { additionalProperties: false }
);

export const AnthropicToolSchema = Type.Object(
    {
        name: Type.String({ minLength: 1, maxLength: 64, pattern: "^[a-zA-Z0-9_-]+$" }),
        description: Type.Optional(Type.String()),
        input_schema: Type.Object({}, { additionalProperties: true }),
        type: Type.Optional(Type.String({ description: "Only custom tools; server tools (web search…) are refused." })),
        cache_control: Type.Optional(Type.Unknown())
    },
    { additionalProperties: false }
);

export const AnthropicToolChoiceSchema = Type.Object(
    {
        type: Type.Union([Type.Literal("auto"), Type.Literal("any"), Type.Literal("tool"), Type.Literal("none")]),
        name: Type.Optional(Type.String({ minLength: 1 })),
        disable_parallel_tool_use: Type.Optional(Type.Boolean({ description: "Accepted; a reply carries the calls the model writes." }))
    },
    { additionalProperties: false }
);

const stopString = Type.String({ minLength: 1, maxLength: generateLimits.maxStopSequenceLength });

export const MessagesRequestSchema = Type.Object(
    {
        model: Type.String({ minLength: 1, maxLength: generateLimits.maxModelNameLength, description: "Model id or alias." }),
        max_tokens: Type.Integer({ minimum: 1, description: "Most tokens to generate (required, as Anthropic's API has it)." }),
        messages: Type.Array(AnthropicMessageParamSchema, { minItems: 1, maxItems: 1024 }),
        system: Type.Optional(Type.Union([Type.String(), Type.Array(AnthropicContentBlockSchema, { maxItems: 64 })])),
        stop_sequences: Type.Optional(Type.Array(stopString, { maxItems: generateLimits.maxStopSequences })),
        temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: "0 to 1, as Anthropic's range is; 0 is greedy. Defaults to 0.8." })),
        top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
        top_k: Type.Optional(Type.Integer({ minimum: 0 })),
        stream: Type.Optional(Type.Boolean()),
        tools: Type.Optional(Type.Array(AnthropicToolSchema, { maxItems: 128 })),
        tool_choice: Type.Optional(AnthropicToolChoiceSchema),
        metadata: Type.Optional(
            Type.Object({ user_id: Type.Optional(Type.Union([Type.String(), Type.Null()])) }, { additionalProperties: false, description: "Accepted and ignored." })
        ),
        thinking: Type.Optional(Type.Object({ type: Type.String() }, { additionalProperties: true, description: "Only {type: disabled}." })),
        service_tier: Type.Optional(Type.String({ description: "Accepted and ignored." })),
        keep_alive: Type.Optional(KeepAliveSchema)
    },
    { additionalProperties: false }
);
export type MessagesRequest = Static<typeof MessagesRequestSchema>;
export type AnthropicContentBlock = Static<typeof AnthropicContentBlockSchema>;

export const CountTokensRequestSchema = Type.Object(
    {
        model: MessagesRequestSchema.properties.model,
        messages: MessagesRequestSchema.properties.messages,
        system: MessagesRequestSchema.properties.system,
        tools: MessagesRequestSchema.properties.tools,
        tool_choice: MessagesRequestSchema.properties.tool_choice,
        thinking: MessagesRequestSchema.properties.thinking
    },
    { additionalProperties: false }
);
export type CountTokensRequest = Static<typeof CountTokensRequestSchema>;

export const AnthropicUsageSchema = Type.Object({
    input_tokens: Type.Integer({ description: "Prompt tokens evaluated for this request (not read from the prompt cache)." }),
    output_tokens: Type.Integer(),
    cache_read_input_tokens: Type.Integer({ description: "Prompt tokens whose evaluation was reused from an earlier request." }),
    cache_creation_input_tokens: Type.Integer({ description: "Always 0: Quandex's prompt cache needs no explicit writes." })
});

export const MessageSchema = Type.Object({
    id: Type.String({ description: "msg_ followed by 24 hex digits." }),
    type: Type.Literal("message"),
    role: Type.Literal("assistant"),
    model: Type.String(),
    content: Type.Array(
        Type.Union([
            Type.Object({ type: Type.Literal("text"), text: Type.String() }),
            Type.Object({ type: Type.Literal("tool_use"), id: Type.String(), name: Type.String(), input: Type.Unknown() })
        ])
    ),
    stop_reason: Type.Union([Type.Literal("end_turn"), Type.Literal("max_tokens"), Type.Literal("stop_sequence"), Type.Literal("tool_use")]),
    stop_sequence: Type.Union([Type.String(), Type.Null()]),
    usage: AnthropicUsageSchema
});
export type Message = Static<typeof MessageSchema>;

export const CountTokensSchema = Type.Object({ input_tokens: Type.Integer() });
