import { TokenBias, type Llama, type LlamaContext, type LlamaModel, type Token } from "node-llama-cpp";
import { QuandexError, type Backend } from "@quandex/protocol";
import type { GenerationEvent, GenerationInput, LoadRequest, ModelRunner, RunnerResources } from "../Engine.js";
import type { Logger } from "../Logger.js";
import { StopSequenceMatcher } from "../StopSequenceMatcher.js";
import { TokenTextDecoder } from "../TokenTextDecoder.js";
import { BatchObserver } from "./BatchObserver.js";

/**
 * A model loaded in-process: one context with `parallel` sequences. node-llama-cpp batches the
 * pending evaluations of all sequences into one decode; `BatchObserver` sees each batch so every
 * request can report the largest batch it took part in.
 */
export class NodeLlamaRunner implements ModelRunner {
    private readonly disposeListeners: Array<() => void> = [];
    private readonly eogTokens: Token[];
    private disposed = false;

    private constructor(
        private readonly llama: Llama,
        private readonly model: LlamaModel,
        private readonly context: LlamaContext,
        private readonly batches: BatchObserver,
        readonly contextSize: number,
        readonly parallel: number,
        private readonly logger: Logger,
        private readonly id: string
    ) {
        this.eogTokens = [model.tokens.eos, model.tokens.eot].filter((t): t is Token => t !== null);
    }

    static async load(llama: Llama, request: LoadRequest, logger: Logger): Promise<NodeLlamaRunner> {
        const { options } = request;
        if (options.gpu === true && llama.gpu === false) {
            throw new QuandexError("model_unavailable", { model: request.id, detail: "its config says gpu: true, but no GPU backend is usable here" });
        }
        const gpuLayers = llama.gpu === false || options.gpu === false ? 0 : options.gpu === true ? "max" : options.gpu;
        const model = await llama.loadModel({ modelPath: request.path, gpuLayers, loadSignal: request.signal });
        const batches = new BatchObserver();
        try {
            const context = await model.createContext({
                sequences: options.parallel,
                contextSize: options.contextSize,
                threads: { ideal: options.threads, min: options.threads },
                batching: { itemPrioritizationStrategy: batches.strategy },
                createSignal: request.signal
            });
            const runner = new NodeLlamaRunner(llama, model, context, batches, options.contextSize, options.parallel, logger, request.id);
            logger.info(
                { model: request.id, gpuLayers: model.gpuLayers, threads: context.currentThreads, parallel: options.parallel, contextSize: options.contextSize },
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

    async *generate(input: GenerationInput, signal: AbortSignal): AsyncGenerator<GenerationEvent> {
        if (this.disposed) throw new QuandexError("model_unavailable", { model: this.id, detail: "it was unloaded" });
        const { sampling } = input;
        const sequence = this.context.getSequence();
        const tracker = this.batches.track();
        const decoder = new TokenTextDecoder((tokens, last) => this.model.detokenize(tokens as Token[], false, last as Token[]));
        const stops = new StopSequenceMatcher(sampling.stop);
        const history: Token[] = [];
        const started = performance.now();
        let completionTokens = 0;
        let finishReason: "stop" | "length" = "stop";
        try {
            const tokenBias = sampling.ignoreEos ? this.noEosBias() : undefined;
            const evaluation = sequence.evaluate(input.promptTokens as Token[], {
                temperature: sampling.temperature,
                topK: sampling.topK,
                topP: sampling.topP,
                seed: sampling.seed,
                tokenBias,
                repeatPenalty:
                    sampling.repeatPenalty === 1 ? undefined : { penalty: sampling.repeatPenalty, punishTokens: () => history.slice(-64) }
            });
            let stopped = false;
            for await (const token of evaluation) {
                if (signal.aborted) break;
                completionTokens++;
                history.push(token);
                const piece = stops.push(decoder.push(token));
                if (piece.emit !== "") yield { type: "text", text: piece.emit };
                if (piece.stopped) {
                    stopped = true;
                    break;
                }
                if (completionTokens >= sampling.maxTokens) {
                    finishReason = "length";
                    break;
                }
            }
            if (signal.aborted) return;
            if (!stopped) {
                const tail = stops.push(decoder.flush());
                const rest = tail.stopped ? tail.emit : tail.emit + stops.flush();
                if (rest !== "") yield { type: "text", text: rest };
                if (tail.stopped) finishReason = "stop";
            }
            yield {
                type: "done",
                finishReason,
                promptTokens: input.promptTokens.length,
                completionTokens,
                batchSize: tracker.maxBatch,
                generationMs: performance.now() - started
            };
        } finally {
            tracker.end();
            await sequence.dispose();
        }
    }

    onDispose(listener: () => void): void {
        this.disposeListeners.push(listener);
    }

    async dispose(): Promise<void> {
        if (this.disposed) return;
        this.disposed = true;
        try {
            await this.context.dispose();
            await this.model.dispose();
        } finally {
            for (const listener of this.disposeListeners) listener();
            this.logger.info({ model: this.id }, "model unloaded");
        }
    }

    private layerCount(): number {
        return this.model.fileInsights.totalLayers;
    }

    private noEosBias(): TokenBias {
        const bias = new TokenBias(this.model.tokenizer);
        for (const token of this.eogTokens) bias.set(token, "never");
        return bias;
    }
}
