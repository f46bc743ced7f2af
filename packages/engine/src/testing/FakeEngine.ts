import type { Backend } from "@quandex/protocol";
import { QuandexError } from "@quandex/protocol";
import { toGrammarSchema } from "../constraints/jsonSchemaSubset.js";
import type { DeviceInfo, EmbeddingResult, Engine, EngineInfo, GenerationEvent, GenerationInput, LoadRequest, ModelRunner, OutputConstraint, RunnerResources } from "../Engine.js";
import { StopSequenceMatcher } from "../StopSequenceMatcher.js";

export interface FakeEngineOptions {
    /** What the fake claims to run on; a GPU backend reports offloaded layers and accelerator memory. Defaults to `"cpu"`. */
    backend?: Backend;
    /** Milliseconds each load takes. Defaults to `0`. */
    loadDelayMs?: number;
    /** Milliseconds between tokens. Defaults to `0`. */
    tokenDelayMs?: number;
    /** Loads of paths matching this fail, as a broken file would. */
    failPaths?: RegExp;
    /** Generations on models whose path matches this throw after two tokens, as a native failure would. */
    crashPaths?: RegExp;
    /** What each loaded model holds (its `totalBytes`), and what `estimate` says before a load. Defaults to `2_000_000`. */
    modelBytes?: number | ((path: string) => number);
}

/**
 * A scripted engine for route and scheduler tests. "Tokens" are the prompt's characters; generation
 * emits `tok0 tok1 ...`, and an EOS after `eosAfter` tokens unless `ignoreEos` is set. A generation
 * with an output constraint emits `{}` (valid JSON, not schema-aware), after checking the schema
 * against the same enforceable subset as the real engine. Embeddings are 8-dimensional vectors
 * derived from the text's characters, so equal texts get equal vectors.
 * It records every generation and embedding it ran so tests can assert what reached the engine.
 * It has no `renderChat`, so chat requests use the plain template.
 */
export class FakeEngine implements Engine {
    readonly generations: GenerationInput[] = [];
    readonly embeddings: string[][] = [];
    readonly loads: LoadRequest[] = [];
    eosAfter = 8;
    private readonly runners = new Set<FakeRunner>();

    constructor(readonly options: FakeEngineOptions = {}) {}

    info(): EngineInfo {
        return { name: "fake", version: "0.0.0", build: "prebuilt", llamaCppRelease: null, backend: this.options.backend ?? "cpu", defaultThreads: 1 };
    }

    async load(request: LoadRequest): Promise<ModelRunner> {
        this.loads.push(request);
        if (this.options.loadDelayMs) await sleep(this.options.loadDelayMs, request.signal);
        if (this.options.failPaths?.test(request.path)) throw new Error(`fake engine cannot load ${request.path}`);
        const runner = new FakeRunner(this, request);
        this.runners.add(runner);
        return runner;
    }

    /** What a load of `request.path` will hold (`modelBytes`). */
    async estimate(request: Omit<LoadRequest, "signal">): Promise<number> {
        return this.bytesFor(request.path);
    }

    /** Models loaded now. */
    get loaded(): number {
        return this.runners.size;
    }

    bytesFor(path: string): number {
        const bytes = this.options.modelBytes ?? 2_000_000;
        return typeof bytes === "function" ? bytes(path) : bytes;
    }

    async device(): Promise<DeviceInfo> {
        const backend = this.options.backend ?? "cpu";
        return { name: backend === "cpu" ? "Fake CPU" : "Fake GPU", backend, memoryAllocatedBytes: 1024, memoryAvailableBytes: 4096 };
    }

    get activeGenerations(): number {
        let total = 0;
        for (const runner of this.runners) total += runner.active;
        return total;
    }

    async dispose(): Promise<void> {
        await Promise.all([...this.runners].map((r) => r.dispose()));
    }

    forget(runner: FakeRunner): void {
        this.runners.delete(runner);
    }
}

class FakeRunner implements ModelRunner {
    readonly contextSize: number;
    readonly parallel: number;
    active = 0;
    disposed = false;

    constructor(
        private readonly engine: FakeEngine,
        private readonly request: LoadRequest
    ) {
        this.contextSize = request.options.contextSize;
        this.parallel = request.options.parallel;
    }

    resources(): RunnerResources {
        const backend = this.engine.options.backend ?? "cpu";
        const gpu = backend !== "cpu";
        const bytes = this.engine.bytesFor(this.request.path);
        return { backend, gpuLayers: gpu ? 5 : 0, acceleratorBytes: gpu ? bytes : 0, totalBytes: bytes };
    }

    async tokenize(text: string): Promise<number[]> {
        return [1, ...Array.from(text, (c) => c.charCodeAt(0))];
    }

    async checkConstraint(constraint: OutputConstraint): Promise<void> {
        if (constraint.type === "json_schema") toGrammarSchema(constraint.schema);
    }

    async embed(inputs: readonly string[], signal: AbortSignal): Promise<EmbeddingResult> {
        this.engine.embeddings.push([...inputs]);
        let promptTokens = 0;
        const vectors = inputs.map((text, index) => {
            const tokens = text.length + 1;
            if (tokens >= this.contextSize) {
                throw new QuandexError(
                    "context_length_exceeded",
                    {},
                    { param: "input", message: `Input ${index} has ${tokens} tokens, but this model's embedding context holds at most ${this.contextSize - 1}.` }
                );
            }
            promptTokens += tokens;
            const vector = Array.from({ length: 8 }, (_, i) => 1 + [...text].reduce((sum, c, j) => sum + ((c.charCodeAt(0) * (i + 1) + j) % 7), 0));
            const norm = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
            return vector.map((x) => x / norm);
        });
        await Promise.resolve();
        if (signal.aborted) throw signal.reason;
        return { vectors, promptTokens };
    }

    async *generate(input: GenerationInput, signal: AbortSignal): AsyncGenerator<GenerationEvent> {
        this.engine.generations.push(input);
        if (input.sampling.constraint) {
            yield { type: "text", text: "{}" };
            yield { type: "done", finishReason: "stop", promptTokens: input.promptTokens.length, completionTokens: 2, cachedTokens: 0, batchSize: 1, generationMs: 0 };
            return;
        }
        this.active++;
        let maxBatch = 0;
        const started = performance.now();
        const stops = new StopSequenceMatcher(input.sampling.stop);
        let produced = 0;
        let finish: "stop" | "length" = "stop";
        try {
            while (true) {
                if (signal.aborted) return;
                maxBatch = Math.max(maxBatch, this.active);
                if (!input.sampling.ignoreEos && produced >= this.engine.eosAfter) break;
                if (produced >= input.sampling.maxTokens) {
                    finish = "length";
                    break;
                }
                if (this.engine.options.tokenDelayMs) await sleep(this.engine.options.tokenDelayMs, signal).catch(() => undefined);
                else await Promise.resolve();
                if (signal.aborted) return;
                if (produced === 2 && this.engine.options.crashPaths?.test(this.request.path)) throw new Error("fake engine failure mid-generation");
                const piece = stops.push(`${produced === 0 ? "" : " "}tok${produced}`);
                produced++;
                if (piece.emit) yield { type: "text", text: piece.emit };
                if (piece.stopped) break;
            }
            yield {
                type: "done",
                finishReason: finish,
                promptTokens: input.promptTokens.length,
                completionTokens: produced,
                cachedTokens: 0,
                stopSequence: stops.matched,
                batchSize: Math.max(1, maxBatch),
                generationMs: performance.now() - started
            };
        } finally {
            this.active--;
        }
    }

    async dispose(): Promise<void> {
        this.disposed = true;
        this.engine.forget(this);
    }
}

/** A timer that an abort ends early; its listener goes when the timer fires, so a long stream leaks none. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
        const onAbort = (): void => {
            clearTimeout(timer);
            reject(signal!.reason);
        };
        const timer = setTimeout(() => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
        }, ms);
        signal?.addEventListener("abort", onAbort, { once: true });
    });
}
