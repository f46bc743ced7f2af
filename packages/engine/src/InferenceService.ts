import { randomInt } from "node:crypto";
import { QuandexError } from "@quandex/protocol";
import { plainChatTemplate } from "./chat/plainChatTemplate.js";
import type { ChatMessage, EmbeddingResult, GenerationEvent, ModelRunner, RunnerResources, SamplingOptions } from "./Engine.js";
import { ModelMetrics } from "./metrics/ModelMetrics.js";
import type { ModelDefinition, ModelRegistry } from "./registry/ModelRegistry.js";
import type { Lease } from "./scheduler/Lease.js";
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

/** A conversation for the model's chat template (or the plain one). */
export interface ChatParams {
    /** Id or alias. */
    model: string;
    messages: readonly ChatMessage[];
    /** `stop` here adds to the template's own end-of-turn markers. */
    sampling: Partial<SamplingOptions>;
}

export interface EmbedParams {
    /** Id or alias. */
    model: string;
    input: readonly string[];
}

/** Embedding inputs that passed the admission checks; `run` waits for a sequence slot and embeds. */
export interface PreparedEmbeddings {
    readonly definition: ModelDefinition;
    run(): Promise<EmbeddingResult>;
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
        const { definition, runner } = await this.readyRunner(params.model);
        const promptTokens = await runner.tokenize(params.prompt);
        return this.start(definition, runner, promptTokens, params.sampling, signal);
    }

    /**
     * Like {@link prepare}, for chat messages: the runner renders them with the model's chat
     * template (or, for runners without `renderChat`, the plain template), and the template's
     * end-of-turn markers end the generation.
     */
    async prepareChat(params: ChatParams, signal: AbortSignal): Promise<PreparedGeneration> {
        const { definition, runner } = await this.readyRunner(params.model);
        const rendered = runner.renderChat
            ? await runner.renderChat(params.messages)
            : { promptTokens: await runner.tokenize(plainChatTemplate.render(params.messages)), stop: [...plainChatTemplate.stop], stopTokens: [] };
        const sampling: Partial<SamplingOptions> = {
            ...params.sampling,
            stop: [...(params.sampling.stop ?? []), ...rendered.stop],
            stopTokens: [...(params.sampling.stopTokens ?? []), ...rendered.stopTokens]
        };
        return this.start(definition, runner, rendered.promptTokens, sampling, signal);
    }

    /**
     * Admission checks for embeddings (model, engine support, input length); the returned `run`
     * takes a sequence slot from the scheduler like a generation does, so embeddings share the
     * queue, its limits and the per-model stats.
     */
    async prepareEmbeddings(params: EmbedParams, signal: AbortSignal): Promise<PreparedEmbeddings> {
        const { definition, runner } = await this.readyRunner(params.model);
        if (!runner.embed) {
            throw new QuandexError("invalid_parameter", { param: "model", detail: `the engine running '${definition.id}' does not compute embeddings.` }, { param: "model" });
        }
        for (const [index, text] of params.input.entries()) {
            const tokens = (await runner.tokenize(text)).length;
            if (tokens >= runner.contextSize) {
                throw new QuandexError("context_length_exceeded", {}, {
                    param: "input",
                    message: `Input ${index} has ${tokens} tokens, but this model's embedding context holds at most ${runner.contextSize - 1}.`
                });
            }
        }
        return {
            definition,
            run: async () => {
                const { lease, finish } = await this.measuredLease(definition, signal);
                let failed = false;
                try {
                    return await lease.runner.embed!(params.input, signal);
                } catch (error) {
                    failed = !signal.aborted;
                    throw error;
                } finally {
                    finish(failed, 0);
                }
            }
        };
    }

    private async readyRunner(model: string): Promise<{ definition: ModelDefinition; runner: ModelRunner }> {
        const definition = this.resolve(model);
        await this.scheduler.ensureReady(definition);
        const runner = this.scheduler.snapshot(definition).runner;
        if (!runner) throw new QuandexError("model_unavailable", { model: definition.id, detail: "it was unloaded." }, { retryAfter: 1 });
        return { definition, runner };
    }

    private async start(
        definition: ModelDefinition,
        runner: ModelRunner,
        promptTokens: number[],
        request: Partial<SamplingOptions>,
        signal: AbortSignal
    ): Promise<PreparedGeneration> {
        const contextSize = runner.contextSize;
        const room = contextSize - promptTokens.length;
        const requested = request.maxTokens;
        if (room < 1 || (requested !== undefined && requested > room)) {
            const maxTokens = requested ?? 1;
            throw new QuandexError(
                "context_length_exceeded",
                { context_size: contextSize, needed: promptTokens.length + maxTokens, prompt_tokens: promptTokens.length, max_tokens: maxTokens },
                { param: requested !== undefined && room >= 1 ? "max_tokens" : "prompt" }
            );
        }
        const constraint = request.constraint;
        if (constraint) {
            if (!runner.checkConstraint) {
                throw new QuandexError("invalid_parameter", { param: "response_format", detail: `the engine running '${definition.id}' cannot enforce an output format.` }, { param: "response_format" });
            }
            await runner.checkConstraint(constraint);
        }
        const sampling: SamplingOptions = {
            temperature: request.temperature ?? samplingDefaults.temperature,
            topP: request.topP ?? samplingDefaults.topP,
            topK: request.topK ?? samplingDefaults.topK,
            repeatPenalty: request.repeatPenalty ?? samplingDefaults.repeatPenalty,
            ignoreEos: request.ignoreEos ?? samplingDefaults.ignoreEos,
            seed: request.seed ?? randomInt(0, 2 ** 32 - 1),
            stop: request.stop ?? [],
            maxTokens: requested ?? room,
            ...(request.frequencyPenalty && { frequencyPenalty: request.frequencyPenalty }),
            ...(request.presencePenalty && { presencePenalty: request.presencePenalty }),
            ...(request.stopTokens && request.stopTokens.length > 0 && { stopTokens: request.stopTokens }),
            ...(constraint && { constraint })
        };
        const service = this;
        return {
            definition,
            promptTokens: promptTokens.length,
            maxTokens: sampling.maxTokens,
            resources: () => runner.resources(),
            async *events() {
                let completionTokens = 0;
                let failed = false;
                const { lease, finish } = await service.measuredLease(definition, signal);
                let engineEvents: AsyncIterator<GenerationEvent> | undefined;
                try {
                    engineEvents = lease.runner.generate({ promptTokens, sampling }, signal)[Symbol.asyncIterator]();
                    // Asked for at once, so the prompt evaluates while the caller is still busy with
                    // "started" (the HTTP layer sends its headers then): a fifth of a small model's TTFT.
                    const firstEngineEvent = engineEvents.next();
                    firstEngineEvent.catch(() => undefined);
                    yield { type: "started", queuedMs: lease.queuedMs };
                    for (let next = await firstEngineEvent; !next.done; next = await engineEvents.next()) {
                        const event = next.value;
                        if (event.type === "done") completionTokens = event.completionTokens;
                        yield event;
                    }
                } catch (error) {
                    failed = !signal.aborted;
                    throw error;
                } finally {
                    try {
                        // Queued behind a pending next(): a consumer that left after "started" still ends the run.
                        await engineEvents?.return?.(undefined);
                    } finally {
                        finish(failed, completionTokens);
                    }
                }
            }
        };
    }

    /**
     * Takes a sequence for a request and measures it: a refusal (queue full or timed out) is
     * recorded as a failure at once; otherwise `finish` releases the sequence and records the
     * request. A client that went away is never counted as a failure.
     */
    private async measuredLease(definition: ModelDefinition, signal: AbortSignal): Promise<{ lease: Lease; finish(failed: boolean, completionTokens: number): void }> {
        const metrics = this.metricsFor(definition.id);
        const started = this.now();
        const lease = await this.scheduler.acquire(definition, signal).catch((error: unknown) => {
            if (!signal.aborted) metrics.record(this.now() - started, true, 0);
            throw error;
        });
        return {
            lease,
            finish: (failed, completionTokens) => {
                lease.release();
                metrics.record(this.now() - started, failed, completionTokens);
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
