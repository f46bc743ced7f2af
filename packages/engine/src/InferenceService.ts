import { randomInt } from "node:crypto";
import { QuandexError } from "@quandex/protocol";
import type { GenerationEvent, RunnerResources, SamplingOptions } from "./Engine.js";
import { ModelMetrics } from "./metrics/ModelMetrics.js";
import type { ModelDefinition, ModelRegistry } from "./registry/ModelRegistry.js";
import type { Scheduler } from "./scheduler/Scheduler.js";

/** Sampling defaults, as llama.cpp's server has them; documented in the README. */
export const samplingDefaults = {
    temperature: 0.8,
    topP: 0.95,
    topK: 40,
    repeatPenalty: 1,
    ignoreEos: false
} as const;

export interface GenerateParams {
    /** Id or alias. */
    model: string;
    prompt: string;
    sampling: Partial<SamplingOptions>;
}

export type PreparedEvent = GenerationEvent | { type: "started"; queuedMs: number };

/** A request that passed every admission check; iterating `events` runs it. */
export interface PreparedGeneration {
    readonly definition: ModelDefinition;
    readonly promptTokens: number;
    readonly maxTokens: number;
    resources(): RunnerResources;
    events(): AsyncGenerator<PreparedEvent>;
}

/**
 * The one native generation path: resolve the model, make sure it is loaded, check the context
 * budget, then queue for a sequence and stream. Every dialect (JAN, OpenAI) calls this.
 */
export class InferenceService {
    private readonly metrics = new Map<string, ModelMetrics>();

    constructor(
        readonly registry: ModelRegistry,
        readonly scheduler: Scheduler,
        private readonly now: () => number = () => Date.now()
    ) {}

    /** @throws QuandexError `model_not_found`, naming `param` as the field at fault. */
    resolve(name: string, param = "model"): ModelDefinition {
        const definition = this.registry.resolve(name);
        if (!definition) throw new QuandexError("model_not_found", { model: name }, { param });
        return definition;
    }

    /** Admission checks that answer with an HTTP status before any byte of the response is sent. */
    async prepare(params: GenerateParams, signal: AbortSignal): Promise<PreparedGeneration> {
        const definition = this.resolve(params.model);
        await this.scheduler.ensureReady(definition);
        const runner = this.scheduler.snapshot(definition).runner;
        if (!runner) throw new QuandexError("model_unavailable", { model: definition.id, detail: "it was unloaded." }, { retryAfter: 1 });
        const promptTokens = await runner.tokenize(params.prompt);
        const contextSize = runner.contextSize;
        const room = contextSize - promptTokens.length;
        const requested = params.sampling.maxTokens;
        if (room < 1 || (requested !== undefined && requested > room)) {
            const maxTokens = requested ?? 1;
            throw new QuandexError(
                "context_length_exceeded",
                { context_size: contextSize, needed: promptTokens.length + maxTokens, prompt_tokens: promptTokens.length, max_tokens: maxTokens },
                { param: requested !== undefined && room >= 1 ? "max_tokens" : "prompt" }
            );
        }
        const sampling: SamplingOptions = {
            temperature: params.sampling.temperature ?? samplingDefaults.temperature,
            topP: params.sampling.topP ?? samplingDefaults.topP,
            topK: params.sampling.topK ?? samplingDefaults.topK,
            repeatPenalty: params.sampling.repeatPenalty ?? samplingDefaults.repeatPenalty,
            ignoreEos: params.sampling.ignoreEos ?? samplingDefaults.ignoreEos,
            seed: params.sampling.seed ?? randomInt(0, 2 ** 32 - 1),
            stop: params.sampling.stop ?? [],
            maxTokens: requested ?? room
        };
        const metrics = this.metricsFor(definition.id);
        const scheduler = this.scheduler;
        const now = this.now;
        return {
            definition,
            promptTokens: promptTokens.length,
            maxTokens: sampling.maxTokens,
            resources: () => runner.resources(),
            async *events() {
                const started = now();
                let completionTokens = 0;
                let failed = false;
                const lease = await scheduler.acquire(definition, signal).catch((error: unknown) => {
                    if (!signal.aborted) metrics.record(now() - started, true, 0);
                    throw error;
                });
                try {
                    yield { type: "started", queuedMs: lease.queuedMs };
                    for await (const event of lease.runner.generate({ promptTokens, sampling }, signal)) {
                        if (event.type === "done") completionTokens = event.completionTokens;
                        yield event;
                    }
                } catch (error) {
                    failed = !signal.aborted;
                    throw error;
                } finally {
                    lease.release();
                    metrics.record(now() - started, failed, completionTokens);
                }
            }
        };
    }

    metricsFor(id: string): ModelMetrics {
        let metrics = this.metrics.get(id);
        if (!metrics) {
            metrics = new ModelMetrics(this.now);
            this.metrics.set(id, metrics);
        }
        return metrics;
    }
}
