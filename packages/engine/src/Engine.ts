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
    /** CPU threads for decoding. */
    threads: number;
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
}

export interface GenerationInput {
    /** The prompt, already tokenized by {@link ModelRunner.tokenize} (BOS included when the model wants one). */
    promptTokens: readonly number[];
    sampling: SamplingOptions;
}

export type GenerationEvent =
    | { type: "text"; text: string }
    | {
          type: "done";
          finishReason: FinishReason;
          promptTokens: number;
          completionTokens: number;
          /** Largest number of sequences decoded together in one batch while this generation ran. */
          batchSize: number;
          /** From the first evaluation to the last token. */
          generationMs: number;
      };

/** What a loaded model holds, as reported by the engine. */
export interface RunnerResources {
    backend: Backend;
    gpuLayers: number;
    /** Accelerator memory held by the weights and context; 0 on CPU. */
    acceleratorBytes: number;
    /** All memory held by the weights and context, RAM and accelerator. */
    totalBytes: number;
}

/**
 * One loaded model with `parallel` sequences. The scheduler guarantees that no more than
 * `parallel` generations run at once, so `generate` never has to wait for a sequence.
 */
export interface ModelRunner {
    readonly contextSize: number;
    readonly parallel: number;
    resources(): RunnerResources;
    tokenize(text: string): Promise<number[]>;
    /**
     * Streams a generation. Aborting `signal` (or leaving the loop early) stops decoding and frees
     * the sequence before the iterator finishes.
     */
    generate(input: GenerationInput, signal: AbortSignal): AsyncIterable<GenerationEvent>;
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
    defaultThreads: number;
}

/** The only view of inference the server has. The in-process engine and the fake engine implement it. */
export interface Engine {
    info(): EngineInfo;
    load(request: LoadRequest): Promise<ModelRunner>;
    device(): Promise<DeviceInfo>;
    dispose(): Promise<void>;
}
