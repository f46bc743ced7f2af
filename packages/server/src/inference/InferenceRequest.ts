import type { ConversationMessage, SamplingOptions, ToolChoice, ToolDefinition } from "@quandex/engine";

/** What one choice of a generation starts from: a prompt to continue, or a conversation for the chat template. */
export type GenerationInputSpec = { prompt: string } | { messages: readonly ConversationMessage[] };

/**
 * The one internal shape every dialect's parser produces for a generation: JAN's `/v1/generate`
 * is one prompt; OpenAI's completions one choice per prompt; chat one conversation. Everything
 * after parsing (admission, the run, accounting) sees only this.
 */
export interface GenerationRequest {
    readonly kind: "generation";
    /** Id or alias, as the client sent it. */
    readonly model: string;
    /** One entry per choice; choices run side by side on the model's sequences. */
    readonly inputs: readonly GenerationInputSpec[];
    readonly sampling: Partial<SamplingOptions>;
    /** Tools a chat's model may call, and whether it must; chat inputs only. */
    readonly tools?: readonly ToolDefinition[];
    readonly toolChoice?: ToolChoice;
    readonly stream: boolean;
    /** How long the model stays loaded after this request (ms, `null` forever); `undefined` leaves the model's. */
    readonly keepAliveMs?: number | null;
}

/** The internal shape of an embeddings request. */
export interface EmbeddingRequest {
    readonly kind: "embedding";
    readonly model: string;
    /** Non-empty texts, one vector each. */
    readonly inputs: readonly string[];
    readonly keepAliveMs?: number | null;
}
