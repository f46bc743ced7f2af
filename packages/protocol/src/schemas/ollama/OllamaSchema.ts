import { Type, type Static } from "@sinclair/typebox";
import { KeepAliveSchema } from "../../keepAlive.js";
import { generateLimits } from "../GenerateRequestSchema.js";

/**
 * Ollama's `/api/*` request bodies, as its clients send them. `options` is open: Ollama accepts
 * many runner options (num_gpu, mirostat…) that make no sense per request here; the ones that do are
 * typed and mapped (docs/ollama.md), the rest are accepted and ignored, as Ollama ignores options a
 * runner does not use.
 */
export const OllamaOptionsSchema = Type.Object(
    {
        temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
        top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
        top_k: Type.Optional(Type.Integer({ minimum: 0 })),
        seed: Type.Optional(Type.Integer()),
        num_predict: Type.Optional(Type.Integer({ minimum: -2, description: "-1 (default) or -2: until the context is full." })),
        stop: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: generateLimits.maxStopSequenceLength }), { maxItems: generateLimits.maxStopSequences })),
        repeat_penalty: Type.Optional(Type.Number({ minimum: 0 })),
        presence_penalty: Type.Optional(Type.Number({ minimum: -2, maximum: 2 })),
        frequency_penalty: Type.Optional(Type.Number({ minimum: -2, maximum: 2 })),
        num_ctx: Type.Optional(Type.Integer({ minimum: 1, description: "Checked against the model's context, which is fixed when it loads." }))
    },
    { additionalProperties: true }
);
export type OllamaOptions = Static<typeof OllamaOptionsSchema>;

const model = Type.String({ minLength: 1, maxLength: generateLimits.maxModelNameLength });
const Format = Type.Union([Type.Literal("json"), Type.Literal(""), Type.Object({}, { additionalProperties: true })]);

export const OllamaToolSchema = Type.Object(
    {
        type: Type.Literal("function"),
        function: Type.Object(
            {
                name: Type.String({ minLength: 1, maxLength: 64 }),
                description: Type.Optional(Type.String()),
                parameters: Type.Optional(Type.Object({}, { additionalProperties: true }))
            },
            { additionalProperties: true }
        )
    },
    { additionalProperties: true }
);

export const OllamaToolCallSchema = Type.Object(
    {
        function: Type.Object(
            { name: Type.String({ minLength: 1 }), arguments: Type.Optional(Type.Unknown()), index: Type.Optional(Type.Integer()) },
            { additionalProperties: true }
        )
    },
    { additionalProperties: true }
);

export const OllamaMessageSchema = Type.Object(
    {
        role: Type.String({ description: "system, user, assistant or tool." }),
        content: Type.String(),
        images: Type.Optional(Type.Union([Type.Array(Type.String()), Type.Null()])),
        tool_calls: Type.Optional(Type.Union([Type.Array(OllamaToolCallSchema, { maxItems: 128 }), Type.Null()])),
        tool_name: Type.Optional(Type.String()),
        thinking: Type.Optional(Type.String())
    },
    { additionalProperties: false }
);

export const OllamaGenerateRequestSchema = Type.Object(
    {
        model,
        prompt: Type.Optional(Type.String()),
        suffix: Type.Optional(Type.String()),
        system: Type.Optional(Type.String()),
        template: Type.Optional(Type.String()),
        context: Type.Optional(Type.Array(Type.Integer())),
        raw: Type.Optional(Type.Boolean()),
        stream: Type.Optional(Type.Boolean()),
        format: Type.Optional(Format),
        images: Type.Optional(Type.Union([Type.Array(Type.String()), Type.Null()])),
        think: Type.Optional(Type.Union([Type.Boolean(), Type.String()])),
        options: Type.Optional(OllamaOptionsSchema),
        keep_alive: Type.Optional(KeepAliveSchema)
    },
    { additionalProperties: false }
);
export type OllamaGenerateRequest = Static<typeof OllamaGenerateRequestSchema>;

export const OllamaChatRequestSchema = Type.Object(
    {
        model,
        messages: Type.Optional(Type.Array(OllamaMessageSchema, { maxItems: 1024 })),
        tools: Type.Optional(Type.Union([Type.Array(OllamaToolSchema, { maxItems: 128 }), Type.Null()])),
        stream: Type.Optional(Type.Boolean()),
        format: Type.Optional(Format),
        think: Type.Optional(Type.Union([Type.Boolean(), Type.String()])),
        options: Type.Optional(OllamaOptionsSchema),
        keep_alive: Type.Optional(KeepAliveSchema)
    },
    { additionalProperties: false }
);
export type OllamaChatRequest = Static<typeof OllamaChatRequestSchema>;

export const OllamaEmbedRequestSchema = Type.Object(
    {
        model,
        input: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1, maxItems: 256 })]),
        truncate: Type.Optional(Type.Boolean()),
        dimensions: Type.Optional(Type.Integer()),
        options: Type.Optional(OllamaOptionsSchema),
        keep_alive: Type.Optional(KeepAliveSchema)
    },
    { additionalProperties: false }
);
export type OllamaEmbedRequest = Static<typeof OllamaEmbedRequestSchema>;

export const OllamaEmbeddingsRequestSchema = Type.Object(
    { model, prompt: Type.String(), options: Type.Optional(OllamaOptionsSchema), keep_alive: Type.Optional(KeepAliveSchema) },
    { additionalProperties: false }
);
export type OllamaEmbeddingsRequest = Static<typeof OllamaEmbeddingsRequestSchema>;

/** `/api/show`, `/api/delete`: Ollama's clients send `model` (older ones `name`). */
export const OllamaModelRefSchema = Type.Object(
    { model: Type.Optional(model), name: Type.Optional(model), verbose: Type.Optional(Type.Boolean()) },
    { additionalProperties: false }
);
export type OllamaModelRef = Static<typeof OllamaModelRefSchema>;

export const OllamaPullRequestSchema = Type.Object(
    {
        model: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
        insecure: Type.Optional(Type.Boolean()),
        stream: Type.Optional(Type.Boolean())
    },
    { additionalProperties: false }
);
export type OllamaPullRequest = Static<typeof OllamaPullRequestSchema>;

/** The answers are Ollama's, documented in docs/ollama.md; they are described loosely so the renderer owns their shape. */
export const OllamaAnswerSchema = Type.Object({}, { additionalProperties: true });
