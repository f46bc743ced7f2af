import type { Backend, FinishReason } from "@quandex/protocol";

/**
 * Options fixed when a model loads. Changing any of them means a reload, which is why they are a
 * separate type from {@link SamplingOptions}: nothing a request sends can reach these.
 */
export interface ModelLoadOptions {
    /** Tokens per sequence: a request's prompt plus max_tokens must fit. */
    contextSize: number;
    /** Sequences decoded together in one context (continuous batching). */
    parallel: number;
    /** `"auto"` offloads what fits, `true` all layers (fails without a GPU), `false` none, a number that many layers. */
    gpu: "auto" | boolean | number;
    /** CPU threads for decoding; `"auto"` lets the engine choose per model and per batch (see `system/threadPolicy.ts`). */
    threads: number | "auto";
}

/** Per-request sampling; never forces a reload. */
export interface SamplingOptions {
    temperature: number;
    topP: number;
    topK: number;
    seed: number;
    repeatPenalty: number;
    ignoreEos: boolean;
    stop: readonly string[];
    maxTokens: number;
    /** OpenAI's frequency penalty, over the same last-64-token window as `repeatPenalty` (as llama.cpp does). Defaults to `0`. */
    frequencyPenalty?: number;
    /** OpenAI's presence penalty, over the same last-64-token window as `repeatPenalty`. Defaults to `0`. */
    presencePenalty?: number;
    /** Token ids that end the generation like EOS does, and are not emitted (a chat template's end-of-turn). Defaults to none. */
    stopTokens?: readonly number[];
    /** A grammar the output must follow, so it always parses. Check it first with {@link ModelRunner.checkConstraint}. Defaults to none. */
    constraint?: OutputConstraint;
}

/**
 * Output constrained by a grammar while sampling: `json` is any JSON object, `json_schema` a JSON
 * value matching the schema (in the subset that {@link ModelRunner.checkConstraint} accepts).
 */
export type OutputConstraint = { type: "json" } | { type: "json_schema"; schema: Readonly<Record<string, unknown>> };

/** One chat turn, already reduced to text, as a chat template takes it. */
export interface ChatMessage {
    role: "system" | "user" | "assistant";
    content: string;
}

/** A tool the model may call: its arguments are a JSON value matching `parameters` (a JSON Schema). */
export interface ToolDefinition {
    name: string;
    description?: string;
    parameters: Readonly<Record<string, unknown>>;
}

/**
 * Whether the model may call tools: `auto` lets it choose, `none` hides the tools, `required` makes
 * it call one of them, `{ name }` makes it call that one.
 */
export type ToolChoice = "auto" | "none" | "required" | { name: string };

/** One call the model made: `arguments` is the JSON text of the arguments, as OpenAI carries it. */
export interface ToolCall {
    id: string;
    name: string;
    arguments: string;
}

/**
 * One turn of a conversation as dialects hand it over: a chat turn, an assistant turn that called
 * tools, or a tool's answer. The engine reduces it to {@link ChatMessage}s for the template.
 */
export type ConversationMessage = (ChatMessage & { toolCalls?: readonly ToolCall[] }) | { role: "tool"; content: string; toolCallId?: string; name?: string };

/** A conversation rendered through a chat template, ready for {@link ModelRunner.generate}. */
export interface RenderedChat {
    /** The rendered prompt, tokenized (BOS included when the model wants one). */
    promptTokens: number[];
    /** The rendered prompt as text, special tokens written out, for logs and tests. */
    text: string;
    /** Text that ends the assistant's turn in this template. */
    stop: string[];
    /** Special tokens that end the assistant's turn in this template. */
    stopTokens: number[];
    /** Which template rendered it: `plain` (no template in the model), or the chat wrapper's name. */
    template: string;
}

export interface EmbeddingResult {
    /** One unit-length vector per input, in input order. */
    vectors: number[][];
    /** Tokens evaluated over all inputs. */
    promptTokens: number;
}

export interface GenerationInput {
    /** The prompt, already tokenized by {@link ModelRunner.tokenize} (BOS included when the model wants one). */
    promptTokens: readonly number[];
    sampling: SamplingOptions;
    /**
     * Whose evaluated prompts this generation may reuse: a runner reuses the KV state of a prompt
     * prefix only from sequences last used with the same key, and `null` reuses nothing. Defaults to `null`.
     */
    cacheKey?: string | null;
    /**
     * The request as text, for a runner whose own server tokenizes and applies the chat template
     * ({@link ModelRunner.tokenizesItself}, an upstream pool): the prompt, or the chat messages.
     * `promptTokens` is then empty. Defaults to none.
     */
    text?: { prompt: string } | { messages: readonly ChatMessage[] };
    /** The request named no `max_tokens` (`sampling.maxTokens` is then the context's room): a runner whose server has its own default may leave it to that server. Defaults to `false`. */
    maxTokensIsDefault?: boolean;
}

export type GenerationEvent =
    | { type: "text"; text: string }
    | {
          type: "done";
          finishReason: FinishReason;
          promptTokens: number;
          completionTokens: number;
          /** Leading prompt tokens whose KV state was reused from an earlier request, not evaluated again (part of `promptTokens`). */
          cachedTokens: number;
          /** Largest number of sequences decoded together in one batch while this generation ran. */
          batchSize: number;
          /** From the first evaluation to the last token. */
          generationMs: number;
          /** The stop string that ended it (a request's or a chat template's), when one did. */
          stopSequence?: string | null;
      };

/** What a loaded model holds, as reported by the engine. */
export interface RunnerResources {
    backend: Backend;
    gpuLayers: number;
    /** Accelerator memory held by the weights and context; 0 on CPU. */
    acceleratorBytes: number;
    /** All memory held by the weights and context, RAM and accelerator. */
    totalBytes: number;
    /** The model runs on another server (an upstream pool): backend, layers and accelerator memory are unknown here, null in `metal_stats`. Defaults to `false`. */
    remote?: boolean;
}

/**
 * One loaded model with `parallel` sequences. The scheduler guarantees that no more than
 * `parallel` generations run at once, so `generate` never has to wait for a sequence.
 */
export interface ModelRunner {
    readonly contextSize: number;
    readonly parallel: number;
    /**
     * True for a runner whose server tokenizes and renders chats itself (an upstream pool, which
     * may run a model Quandex has no tokenizer for): `InferenceService` hands it the text
     * (`GenerationInput.text`), leaves the context check to that server, and takes the token counts
     * from the runner's `done` event. Optional: absent means Quandex tokenizes.
     */
    readonly tokenizesItself?: boolean;
    resources(): RunnerResources;
    tokenize(text: string): Promise<number[]>;
    /**
     * Streams a generation. Aborting `signal` (or leaving the loop early) stops decoding and frees
     * the sequence before the iterator finishes.
     */
    generate(input: GenerationInput, signal: AbortSignal): AsyncIterable<GenerationEvent>;
    /**
     * Renders chat messages with the model's own chat template. Optional: without it, callers use
     * the plain template (`plainChatTemplate`).
     */
    renderChat?(messages: readonly ChatMessage[]): Promise<RenderedChat>;
    /**
     * Compiles an output constraint ahead of the generation, so a schema the engine cannot enforce
     * fails before the request is admitted. Optional: without it, constraints are refused.
     * @throws QuandexError `invalid_parameter` for a schema outside the supported subset.
     */
    checkConstraint?(constraint: OutputConstraint): Promise<void>;
    /**
     * Embeds each text. Optional: engines without it refuse embedding requests.
     * @throws QuandexError `context_length_exceeded` for an input longer than the embedding context.
     */
    embed?(inputs: readonly string[], signal: AbortSignal): Promise<EmbeddingResult>;
    /**
     * Registers a listener called once if the loaded model dies on its own (an engine child process
     * that crashed or was killed), with the reason in words. The scheduler then marks the model
     * `error`. Optional: in-process runners cannot die alone and do not implement it.
     */
    onExit?(listener: (reason: string) => void): void;
    dispose(): Promise<void>;
}

export interface LoadRequest {
    id: string;
    path: string;
    options: ModelLoadOptions;
    signal?: AbortSignal;
}

export interface DeviceInfo {
    name: string;
    backend: Backend;
    memoryAllocatedBytes: number;
    memoryAvailableBytes: number;
}

export interface EngineInfo {
    name: string;
    version: string;
    /** `prebuilt` binaries or a `local` build with native flags. */
    build: "prebuilt" | "local";
    llamaCppRelease: string | null;
    /** The accelerator the engine can offload to, or `cpu`. */
    backend: Backend;
    /** The most threads `threads: auto` gives a model here. */
    defaultThreads: number;
}

/** The only view of inference the server has. The in-process engine and the fake engine implement it. */
export interface Engine {
    info(): EngineInfo;
    load(request: LoadRequest): Promise<ModelRunner>;
    /**
     * Bytes a load of this model with these options will take (weights and context, RAM and
     * accelerator), estimated from the file's header before loading, for the memory budget.
     * Optional: without it, loads are admitted on what loaded models really hold.
     */
    estimate?(request: Omit<LoadRequest, "signal">): Promise<number>;
    device(): Promise<DeviceInfo>;
    dispose(): Promise<void>;
}
