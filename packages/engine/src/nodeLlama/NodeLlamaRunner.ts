import {
    LlamaGrammarEvaluationState,
    type TokenBias,
    type Llama,
    type LlamaContext,
    type LlamaContextSequence,
    type LlamaEmbeddingContext,
    type LlamaGrammar,
    type LlamaModel,
    type Token
} from "node-llama-cpp";
import { QuandexError, type Backend } from "@quandex/protocol";
import { plainChatTemplate } from "../chat/plainChatTemplate.js";
import type { ChatMessage, EmbeddingResult, GenerationEvent, GenerationInput, LoadRequest, ModelRunner, OutputConstraint, RenderedChat, RunnerResources } from "../Engine.js";
import type { Logger } from "../Logger.js";
import { StopSequenceMatcher } from "../StopSequenceMatcher.js";
import { TokenTextDecoder } from "../TokenTextDecoder.js";
import { TrailingWhitespaceTrimmer } from "../TrailingWhitespaceTrimmer.js";
import { perBatchThreads } from "../system/threadPolicy.js";
import { BatchObserver } from "./BatchObserver.js";
import { DispatchWaker, EventPump } from "./EventPump.js";
import { steerContextThreads } from "./steerContextThreads.js";
import { noEosBias } from "./noEosBias.js";
import { ChatTemplate } from "./ChatTemplate.js";
import { GrammarCache } from "./GrammarCache.js";
import { disposeAll } from "../disposeAll.js";
import { SequencePool } from "./SequencePool.js";

/** What a loaded runner is made of; built by {@link NodeLlamaRunner.load}. */
interface NodeLlamaRunnerParts {
    llama: Llama;
    model: LlamaModel;
    context: LlamaContext;
    batches: BatchObserver;
    waker: DispatchWaker;
    /** The model's id, for logs and errors. */
    id: string;
    contextSize: number;
    parallel: number;
    /** The most threads a batch uses (the embedding context gets as many). */
    threads: number;
    logger: Logger;
    /** The engine's grammars (limits and compile budget from its options); one per runner without it. */
    grammars?: GrammarCache;
}

/**
 * A model loaded in-process: one context with `parallel` sequences. node-llama-cpp batches the
 * pending evaluations of all sequences into one decode; `BatchObserver` sees each batch so every
 * request can report the largest batch it took part in.
 */
export class NodeLlamaRunner implements ModelRunner {
    private readonly disposeListeners: Array<() => void> = [];
    /** Built once: ignore_eos requests share it (the addon only reads it). */
    private readonly eosBias: TokenBias;
    private readonly grammars: GrammarCache;
    private readonly sequences: SequencePool;
    private chatTemplate: ChatTemplate | undefined;
    private embeddingContext: Promise<LlamaEmbeddingContext> | undefined;
    private disposed = false;
    private readonly llama: Llama;
    private readonly model: LlamaModel;
    private readonly context: LlamaContext;
    private readonly batches: BatchObserver;
    private readonly waker: DispatchWaker;
    private readonly id: string;
    private readonly threads: number;
    private readonly logger: Logger;
    readonly contextSize: number;
    readonly parallel: number;

    private constructor(parts: NodeLlamaRunnerParts) {
        ({
            llama: this.llama,
            model: this.model,
            context: this.context,
            batches: this.batches,
            waker: this.waker,
            id: this.id,
            threads: this.threads,
            logger: this.logger,
            contextSize: this.contextSize,
            parallel: this.parallel
        } = parts);
        const { model } = parts;
        this.eosBias = noEosBias(
            model,
            [model.tokens.eos, model.tokens.eot].filter((t): t is Token => t !== null)
        );
        this.grammars = parts.grammars ?? new GrammarCache(parts.llama);
        this.sequences = new SequencePool(parts.context, parts.parallel);
    }

    static async load(llama: Llama, request: LoadRequest, logger: Logger, grammars?: GrammarCache): Promise<NodeLlamaRunner> {
        const { options } = request;
        if (options.gpu === true && llama.gpu === false) {
            throw new QuandexError("model_unavailable", { model: request.id, detail: "its config says gpu: true, but no GPU backend is usable here" });
        }
        const gpuLayers = llama.gpu === false || options.gpu === false ? 0 : options.gpu === true ? "max" : options.gpu;
        const model = await llama.loadModel({ modelPath: request.path, gpuLayers, loadSignal: request.signal });
        const waker = new DispatchWaker();
        // node-llama-cpp's default batch: the most tokens one decode can hold.
        const maxBatchTokens = Math.min(options.contextSize * options.parallel, 512);
        const auto = options.threads === "auto" ? perBatchThreads(model.size, undefined, maxBatchTokens) : null;
        const threads = auto ? auto.max : (options.threads as number);
        // The context is set up as late as the hook below needs it; batches before that cannot exist.
        let context: LlamaContext | undefined;
        // Set for every batch, not only on a change: node-llama-cpp drops its thread consumer when
        // a context goes idle and makes a new one at the creation count.
        const batches = new BatchObserver((tokens) => {
            waker.afterDispatch();
            if (auto && context) steerContextThreads(context, auto.forBatch(tokens));
        });
        try {
            context = await model.createContext({
                sequences: options.parallel,
                contextSize: options.contextSize,
                threads: { ideal: threads, min: 1 },
                batching: { itemPrioritizationStrategy: batches.strategy },
                // Off on the CPU, as the llama-server engine runs it (`--flash-attn off`): node-llama-cpp's
                // "auto" turns it on, and llama.cpp's CPU flash attention made one decode take over
                // 50 s once 20 finished 1,500-token sequences kept their KV cells (the slow-readers
                // soak); the plain path took 6.5 s for the same 128 tokens (DEVELOPERS.md).
                // On only with GPU layers, the rule estimateLoadBytes and the llama-server engine follow.
                flashAttention: gpuLayers !== 0,
                createSignal: request.signal
            });
            const runner = new NodeLlamaRunner({
                llama,
                model,
                context,
                batches,
                waker,
                id: request.id,
                contextSize: options.contextSize,
                parallel: options.parallel,
                threads,
                logger,
                ...(grammars && { grammars })
            });
            logger.info(
                {
                    model: request.id,
                    gpuLayers: model.gpuLayers,
                    threads,
                    ...(auto && { threadsAuto: true, threadsPerBatch: `1-${threads}, by work per batch` }),
                    parallel: options.parallel,
                    contextSize: options.contextSize
                },
                "model loaded"
            );
            return runner;
        } catch (error) {
            await model.dispose();
            throw error;
        }
    }

    resources(): RunnerResources {
        const backend: Backend = this.model.gpuLayers > 0 && this.llama.gpu !== false ? this.llama.gpu : "cpu";
        const contextMemory = this.context.memoryUsage;
        const weights = this.model.size;
        const acceleratorWeights = backend === "cpu" ? 0 : Math.round(weights * (this.model.gpuLayers / Math.max(1, this.layerCount())));
        const acceleratorBytes = backend === "cpu" ? 0 : acceleratorWeights + contextMemory.vram;
        return { backend, gpuLayers: this.model.gpuLayers, acceleratorBytes, totalBytes: weights + contextMemory.ram + contextMemory.vram };
    }

    async tokenize(text: string): Promise<number[]> {
        const tokens = this.model.tokenize(text);
        const bos = this.model.tokens.bos;
        return this.model.tokens.shouldPrependBosToken && bos !== null ? [bos, ...tokens] : tokens;
    }

    /** The model's own template through node-llama-cpp's chat wrappers, or the plain template when it has none. */
    async renderChat(messages: readonly ChatMessage[]): Promise<RenderedChat> {
        this.chatTemplate ??= ChatTemplate.forModel(this.model, this.logger, this.id);
        if (!this.chatTemplate.usesModelTemplate) {
            const text = plainChatTemplate.render(messages);
            return { promptTokens: await this.tokenize(text), text, stop: [...plainChatTemplate.stop], stopTokens: [], template: plainChatTemplate.name };
        }
        try {
            return this.chatTemplate.render(messages);
        } catch (error) {
            // Jinja templates may refuse a conversation (`raise_exception`, e.g. roles that do not alternate).
            const detail = error instanceof Error ? error.message : String(error);
            throw new QuandexError("invalid_parameter", { param: "messages", detail: `the model's chat template cannot render them: ${detail}` }, { param: "messages" });
        }
    }

    async checkConstraint(constraint: OutputConstraint): Promise<void> {
        await this.grammars.get(constraint);
    }

    /**
     * Embeds with a second, embeddings-only context, created on the first request and kept until
     * unload. node-llama-cpp evaluates one input at a time on it; vectors are scaled to unit length.
     */
    async embed(inputs: readonly string[], signal: AbortSignal): Promise<EmbeddingResult> {
        if (this.disposed) throw new QuandexError("model_unavailable", { model: this.id, detail: "it was unloaded" });
        this.embeddingContext ??= this.model.createEmbeddingContext({ contextSize: this.contextSize, threads: this.threads }).catch((error: unknown) => {
            this.embeddingContext = undefined;
            throw error;
        });
        const context = await this.embeddingContext;
        const vectors: number[][] = [];
        let promptTokens = 0;
        for (const [index, input] of inputs.entries()) {
            if (signal.aborted) throw signal.reason;
            const length = context.calculateInputLength(input);
            if (length >= this.contextSize) {
                throw new QuandexError(
                    "context_length_exceeded",
                    { context_size: this.contextSize, needed: length, prompt_tokens: length, max_tokens: 0 },
                    { param: "input", message: `Input ${index} has ${length} tokens, but this model's embedding context holds at most ${this.contextSize - 1}.` }
                );
            }
            const embedding = await context.getEmbeddingFor(input);
            vectors.push(unitLength(embedding.vector));
            promptTokens += length;
        }
        return { vectors, promptTokens };
    }

    /**
     * Streams a generation. The token loop (`produce`) runs ahead of the caller through an
     * {@link EventPump}: it asks node-llama-cpp for the next token as soon as it has handled the last
     * one, so the caller's work on a token (HTTP, SSE) overlaps the next decode instead of delaying it.
     * Returning early (a disconnect, a stop upstream) stops the loop at its next token; the sequence
     * is freed once it has.
     */
    async *generate(input: GenerationInput, signal: AbortSignal): AsyncGenerator<GenerationEvent> {
        if (this.disposed) throw new QuandexError("model_unavailable", { model: this.id, detail: "it was unloaded" });
        const { sampling } = input;
        const grammar = sampling.constraint ? await this.grammars.get(sampling.constraint) : undefined;
        const cacheKey = input.cacheKey ?? null;
        const { sequence, reused } = await this.sequences.take(input.promptTokens, cacheKey);
        const tracker = this.batches.track();
        const pump = new EventPump<GenerationEvent>(this.waker);
        let clean = false;
        const producing = this.produce(input, reused, grammar, sequence, tracker, pump, signal).then(
            (finished) => {
                clean = finished;
                pump.end();
            },
            (error: unknown) => pump.fail(error)
        );
        try {
            for (let event = await pump.next(); event !== undefined; event = await pump.next()) yield event;
        } finally {
            pump.close();
            await producing;
            tracker.end();
            // A generation that ran to its end leaves its prompt's KV cells for the next turn to reuse.
            this.sequences.give(sequence, cacheKey, clean ? input.promptTokens.length : 0);
        }
    }

    /** The token loop: samples, decodes text, matches stops, and pushes text and the final `done` into `pump`. */
    /** Resolves true when the generation ran to its end (the sequence holds exactly what it evaluated). */
    private async produce(
        input: GenerationInput,
        reused: number,
        grammar: LlamaGrammar | undefined,
        sequence: LlamaContextSequence,
        tracker: { readonly maxBatch: number },
        pump: EventPump<GenerationEvent>,
        signal: AbortSignal
    ): Promise<boolean> {
        const { sampling } = input;
        const decoder = new TokenTextDecoder((tokens, last) => this.model.detokenize(tokens as Token[], false, last as Token[]));
        const stops = new StopSequenceMatcher([...sampling.stop, ...(grammar ? GrammarCache.stopStrings(grammar) : [])]);
        // The JSON grammars end with forced newlines; trimming them keeps the text exactly the JSON.
        const trimmer = grammar?.trimWhitespaceSuffix ? new TrailingWhitespaceTrimmer() : undefined;
        const emit = (text: string): string => (trimmer ? trimmer.push(text) : text);
        const stopTokens = new Set(sampling.stopTokens ?? []);
        const history: Token[] = [];
        const started = performance.now();
        let completionTokens = 0;
        let finishReason: "stop" | "length" = "stop";
        const tokenBias = sampling.ignoreEos ? this.eosBias : undefined;
        const evaluation = sequence.evaluate(input.promptTokens.slice(reused) as Token[], {
            temperature: sampling.temperature,
            topK: sampling.topK,
            topP: sampling.topP,
            seed: sampling.seed,
            tokenBias,
            grammarEvaluationState: grammar ? new LlamaGrammarEvaluationState({ model: this.model, grammar }) : undefined,
            repeatPenalty:
                sampling.repeatPenalty === 1 && !sampling.frequencyPenalty && !sampling.presencePenalty
                    ? undefined
                    : {
                          penalty: sampling.repeatPenalty,
                          frequencyPenalty: sampling.frequencyPenalty ?? 0,
                          presencePenalty: sampling.presencePenalty ?? 0,
                          punishTokens: () => history.slice(-64)
                      }
        });
        let stopped = false;
        for await (const token of evaluation) {
            if (signal.aborted || pump.closed) return false;
            if (stopTokens.has(token)) break;
            completionTokens++;
            history.push(token);
            const piece = stops.push(decoder.push(token));
            const text = emit(piece.emit);
            if (text !== "") pump.push({ type: "text", text });
            if (piece.stopped) {
                stopped = true;
                break;
            }
            if (completionTokens >= sampling.maxTokens) {
                finishReason = "length";
                break;
            }
            const room = pump.waitForRoom();
            if (room) await room;
        }
        if (signal.aborted || pump.closed) return false;
        // No decode follows: what is left goes to the consumer at once.
        if (!stopped) {
            const tail = stops.push(decoder.flush());
            const rest = emit(tail.stopped ? tail.emit : tail.emit + stops.flush());
            if (rest !== "") pump.push({ type: "text", text: rest }, true);
            if (tail.stopped) finishReason = "stop";
        }
        trimmer?.end();
        pump.push(
            {
                type: "done",
                finishReason,
                promptTokens: input.promptTokens.length,
                completionTokens,
                cachedTokens: reused,
                stopSequence: stops.matched,
                batchSize: tracker.maxBatch,
                generationMs: performance.now() - started
            },
            true
        );
        return true;
    }

    onDispose(listener: () => void): void {
        this.disposeListeners.push(listener);
    }

    /** Frees the embedding context, the context and the model, each even if another fails; every failure is reported. */
    async dispose(): Promise<void> {
        if (this.disposed) return;
        this.disposed = true;
        const embeddingContext = this.embeddingContext;
        this.embeddingContext = undefined;
        try {
            await disposeAll(`model '${this.id}'`, [
                // A context that failed to be created has nothing to free.
                async () => (await embeddingContext?.catch(() => undefined))?.dispose(),
                () => this.context.dispose(),
                () => this.model.dispose()
            ]);
        } finally {
            for (const listener of this.disposeListeners) listener();
            this.logger.info({ model: this.id }, "model unloaded");
        }
    }

    private layerCount(): number {
        return this.model.fileInsights.totalLayers;
    }
}

function unitLength(vector: readonly number[]): number[] {
    const norm = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
    return norm > 0 ? vector.map((x) => x / norm) : [...vector];
}
