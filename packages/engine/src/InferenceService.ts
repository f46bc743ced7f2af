import { randomInt } from "node:crypto";
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { QuandexError } from "@quandex/protocol";
import { plainChatTemplate } from "./chat/plainChatTemplate.js";
import type {
    ConversationMessage,
    EmbeddingResult,
    GenerationEvent,
    GenerationInput,
    ModelRunner,
    RunnerResources,
    SamplingOptions,
    ToolCall,
    ToolChoice,
    ToolDefinition
} from "./Engine.js";
import { ToolCallExtractor } from "./chat/tools/ToolCallExtractor.js";
import { planToolConversation } from "./chat/tools/toolConversation.js";
import { ModelMetrics } from "./metrics/ModelMetrics.js";
import type { ModelDefinition, ModelRegistry } from "./registry/ModelRegistry.js";
import type { Lease } from "./scheduler/Lease.js";
import type { LoadOutcome, MemoryStatus, ModelSnapshot, Scheduler } from "./scheduler/Scheduler.js";
import { removeModelFileMeta } from "./pull/modelFileMeta.js";
import type { ModelPull } from "./pull/ModelPull.js";
import type { ModelPuller } from "./pull/ModelPuller.js";
import { splitPart } from "./pull/splitParts.js";

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
    /** How long the model stays loaded after this request: ms, `null` forever, `0` unload at once. Defaults to the model's. */
    keepAliveMs?: number | null;
    /** Whose cached prompts it may reuse (see `GenerationInput.cacheKey`); `null` reuses nothing. Defaults to `null`. */
    cacheKey?: string | null;
}

/** A conversation for the model's chat template (or the plain one). */
export interface ChatParams {
    /** Id or alias. */
    model: string;
    messages: readonly ConversationMessage[];
    /** Tools the model may call (see `chat/tools/toolConversation.ts`). Defaults to none. */
    tools?: readonly ToolDefinition[];
    /** Defaults to `auto`. */
    toolChoice?: ToolChoice;
    /** `stop` here adds to the template's own end-of-turn markers. */
    sampling: Partial<SamplingOptions>;
    /** As in {@link GenerateParams}. */
    keepAliveMs?: number | null;
    /** As in {@link GenerateParams}. */
    cacheKey?: string | null;
}

export interface EmbedParams {
    /** Id or alias. */
    model: string;
    input: readonly string[];
    /** As in {@link GenerateParams}. */
    keepAliveMs?: number | null;
}

/** Embedding inputs that passed the admission checks; `run` waits for a sequence slot and embeds. */
export interface PreparedEmbeddings {
    readonly definition: ModelDefinition;
    run(): Promise<EmbeddingResult>;
}

/**
 * What a prepared generation streams: the runner's events, its start, and, for a chat with tools,
 * the calls the engine read out of the reply (their text is not sent as `text` too).
 */
export type PreparedEvent = GenerationEvent | { type: "started"; queuedMs: number } | { type: "tool_call"; call: ToolCall };

/** A request that passed every admission check; iterating `events` runs it. */
export interface PreparedGeneration {
    readonly definition: ModelDefinition;
    readonly promptTokens: number;
    readonly maxTokens: number;
    resources(): RunnerResources;
    events(): AsyncGenerator<PreparedEvent>;
}

/** The server-wide figures of {@link InferenceService.status}. */
export interface ServiceStatus {
    /** Requests waiting for a sequence, across models. */
    queueDepth: number;
    /** Sequences generating now, across models. */
    activeSequences: number;
    /** The memory budget, what loaded models hold, and how many were unloaded to make room. */
    memory: MemoryStatus;
}

/**
 * The engine's one face to the server: models (list, load, unload, state as plain data), figures,
 * and the one native generation path (resolve the model, make sure it is loaded, check the
 * context budget, then queue for a sequence and stream). Every dialect calls this; nothing above
 * it sees the registry, the scheduler or a runner.
 */
export class InferenceService {
    private readonly metrics = new Map<string, ModelMetrics>();

    constructor(
        private readonly registry: ModelRegistry,
        private readonly scheduler: Scheduler,
        private readonly now: () => number = () => Date.now(),
        /** Pulls models into the models dir; without it, pulls are refused. */
        private readonly puller?: ModelPuller
    ) {}

    /** @throws QuandexError `model_not_found`, naming `param` as the field at fault. */
    resolve(name: string, param = "model"): ModelDefinition {
        const definition = this.registry.resolve(name);
        if (!definition) throw new QuandexError("model_not_found", { model: name }, { param });
        return definition;
    }

    /** Every model the registry knows, in every state. */
    models(): ModelSnapshot[] {
        return this.registry.list().map((definition) => this.scheduler.snapshot(definition));
    }

    /** One model by id or alias. @throws QuandexError `model_not_found` naming `param`. */
    model(name: string, param = "id"): ModelSnapshot {
        return this.scheduler.snapshot(this.resolve(name, param));
    }

    /**
     * Starts loading a model unless it is ready or loading; answers once the load has begun.
     * @throws QuandexError `model_unavailable` for a model larger than the whole memory budget.
     */
    load(name: string, param = "id"): Promise<ModelSnapshot> {
        return this.scheduler.load(this.resolve(name, param));
    }

    /** Unloads a model once its in-flight and queued requests finish. */
    unload(name: string, param = "id"): Promise<ModelSnapshot> {
        return this.scheduler.unload(this.resolve(name, param));
    }

    /** Loads every model marked `preload` and resolves when each has loaded or failed. */
    async preload(): Promise<void> {
        await Promise.all(
            this.registry
                .list()
                .filter((d) => d.preload)
                .map((d) => this.scheduler.loadAndWait(d))
        );
    }

    /** Whether any model is marked `preload`. */
    get hasPreloads(): boolean {
        return this.registry.list().some((d) => d.preload);
    }

    /**
     * Starts pulling a model into the models dir, or joins the pull of the same source and id
     * already under way. Resolves once the source is resolved (the files, sizes and checksums are
     * known), before the download.
     * @throws QuandexError `invalid_parameter` or `model_not_found` for a bad or unknown source.
     */
    async pull(source: string, options: { id?: string; signal?: AbortSignal } = {}): Promise<ModelPull> {
        if (!this.puller) throw new QuandexError("invalid_parameter", { param: "source", detail: "this server does not pull models." }, { param: "source" });
        return this.puller.start(source, options);
    }

    /** A pull by its id. @throws QuandexError `pull_not_found`. */
    pullById(id: string): ModelPull {
        const pull = this.puller?.get(id);
        if (!pull) throw new QuandexError("pull_not_found", { id }, { param: "id" });
        return pull;
    }

    /** Every pull this server ran or runs (the most recent finished ones kept). */
    pulls(): ReturnType<ModelPuller["list"]> {
        return this.puller?.list() ?? [];
    }

    /**
     * Deletes a model's file(s) from the models dir (every part of a split model) and what a pull
     * recorded about it. A loaded model that is idle is unloaded first.
     * @throws QuandexError `model_busy` while requests run or wait on it; `invalid_parameter` for a
     *   model defined in the config file (its file is not the models dir's to delete).
     */
    async deleteModel(name: string, param = "id"): Promise<ModelSnapshot> {
        const definition = this.resolve(name, param);
        if (definition.source !== "directory") {
            throw new QuandexError("invalid_parameter", { param, detail: `'${definition.id}' is defined in the config file; remove it there.` }, { param });
        }
        const before = this.scheduler.snapshot(definition);
        if (before.active > 0 || before.waiting > 0 || before.status === "loading") {
            throw new QuandexError(
                "model_busy",
                {
                    model: definition.id,
                    detail: `${before.active} requests run and ${before.waiting} wait on it${before.status === "loading" ? ", and it is loading" : ""}; try again when it is idle.`
                },
                { retryAfter: 5 }
            );
        }
        await this.scheduler.unload(definition);
        await this.scheduler.settled(definition);
        const dir = path.dirname(definition.path);
        const first = path.basename(definition.path);
        const split = splitPart(first);
        const names = split ? (await readdir(dir)).filter((name) => splitPart(name)?.stem === split.stem && splitPart(name)?.parts === split.parts) : [first];
        for (const file of names) await rm(path.join(dir, file), { force: true });
        await removeModelFileMeta(dir, definition.id);
        this.registry.refresh();
        return { ...before, status: "unloaded", resources: null, active: 0, waiting: 0, expiresAt: null };
    }

    /** Loads that ended since start, per model and outcome (`success`, `error`, `refused` for memory). */
    loadCounts(): ReadonlyMap<string, Readonly<Record<LoadOutcome, number>>> {
        return this.scheduler.loadCounts();
    }

    status(): ServiceStatus {
        return { queueDepth: this.scheduler.queueDepth, activeSequences: this.scheduler.activeSequences, memory: this.scheduler.memory() };
    }

    /** Admission checks that answer with an HTTP status before any byte of the response is sent. */
    async prepare(params: GenerateParams, signal: AbortSignal): Promise<PreparedGeneration> {
        const { definition, runner } = await this.readyRunner(params.model);
        if (runner.tokenizesItself) return this.start(definition, runner, [], params.sampling, signal, params, { prompt: params.prompt });
        const promptTokens = await runner.tokenize(params.prompt);
        return this.start(definition, runner, promptTokens, params.sampling, signal, params);
    }

    /**
     * Like {@link prepare}, for chat messages: the runner renders them with the model's chat
     * template (or, for runners without `renderChat`, the plain template), and the template's
     * end-of-turn markers end the generation.
     */
    async prepareChat(params: ChatParams, signal: AbortSignal): Promise<PreparedGeneration> {
        const plan = planToolConversation(params.messages, params.tools, params.toolChoice);
        if (plan.constraint && params.sampling.constraint) {
            throw new QuandexError(
                "invalid_parameter",
                { param: "response_format", detail: "a required tool call is already JSON; send response_format or a required tool_choice, not both." },
                { param: "response_format" }
            );
        }
        const { definition, runner } = await this.readyRunner(params.model);
        const rendered = runner.tokenizesItself
            ? { promptTokens: [], stop: [], stopTokens: [] }
            : runner.renderChat
              ? await runner.renderChat(plan.messages)
              : { promptTokens: await runner.tokenize(plainChatTemplate.render(plan.messages)), stop: [...plainChatTemplate.stop], stopTokens: [] };
        const sampling: Partial<SamplingOptions> = {
            ...params.sampling,
            stop: [...(params.sampling.stop ?? []), ...rendered.stop],
            stopTokens: [...(params.sampling.stopTokens ?? []), ...rendered.stopTokens],
            ...(plan.constraint && { constraint: plan.constraint })
        };
        const prepared = await this.start(definition, runner, rendered.promptTokens, sampling, signal, params, runner.tokenizesItself ? { messages: plan.messages } : undefined);
        const mode = plan.mode;
        if (mode === null) return prepared;
        return {
            definition: prepared.definition,
            promptTokens: prepared.promptTokens,
            maxTokens: prepared.maxTokens,
            resources: () => prepared.resources(),
            async *events() {
                const extractor = new ToolCallExtractor(mode);
                for await (const event of prepared.events()) {
                    if (event.type === "text") yield* extractor.push(event.text);
                    else if (event.type === "done") {
                        yield* extractor.end();
                        yield event;
                    } else yield event;
                }
            }
        };
    }

    /**
     * The prompt tokens a chat would evaluate (template, tools and BOS included), without running
     * it: Anthropic's `count_tokens`. Loads the model if it is not loaded, as the tokenizer is the model's.
     */
    async countChatTokens(params: Pick<ChatParams, "model" | "messages" | "tools" | "toolChoice">): Promise<number> {
        const plan = planToolConversation(params.messages, params.tools, params.toolChoice);
        const { runner } = await this.readyRunner(params.model);
        if (runner.renderChat) return (await runner.renderChat(plan.messages)).promptTokens.length;
        return (await runner.tokenize(plainChatTemplate.render(plan.messages))).length;
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
        // A runner that tokenizes itself leaves the length check to its server.
        for (const [index, text] of runner.tokenizesItself ? [] : params.input.entries()) {
            const tokens = (await runner.tokenize(text)).length;
            if (tokens >= runner.contextSize) {
                throw new QuandexError(
                    "context_length_exceeded",
                    {},
                    {
                        param: "input",
                        message: `Input ${index} has ${tokens} tokens, but this model's embedding context holds at most ${runner.contextSize - 1}.`
                    }
                );
            }
        }
        return {
            definition,
            run: async () => {
                const { lease, finish } = await this.measuredLease(definition, signal, params.keepAliveMs);
                let failed = false;
                try {
                    return await lease.runner.embed!(params.input, signal);
                } catch (error) {
                    failed = !signal.aborted;
                    throw error;
                } finally {
                    finish(failed);
                }
            }
        };
    }

    private async readyRunner(model: string): Promise<{ definition: ModelDefinition; runner: ModelRunner }> {
        const definition = this.resolve(model);
        await this.scheduler.ensureReady(definition);
        const runner = this.scheduler.runnerOf(definition);
        if (!runner) throw new QuandexError("model_unavailable", { model: definition.id, detail: "it was unloaded." }, { retryAfter: 1 });
        return { definition, runner };
    }

    private async start(
        definition: ModelDefinition,
        runner: ModelRunner,
        promptTokens: number[],
        request: Partial<SamplingOptions>,
        signal: AbortSignal,
        { keepAliveMs, cacheKey = null }: { keepAliveMs?: number | null; cacheKey?: string | null },
        text?: GenerationInput["text"]
    ): Promise<PreparedGeneration> {
        const contextSize = runner.contextSize;
        const room = contextSize - promptTokens.length;
        const requested = request.maxTokens;
        // Without Quandex's tokens the prompt's length is unknown here; the runner's server checks it.
        if (!runner.tokenizesItself && (room < 1 || (requested !== undefined && requested > room))) {
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
                throw new QuandexError(
                    "invalid_parameter",
                    { param: "response_format", detail: `the engine running '${definition.id}' cannot enforce an output format.` },
                    { param: "response_format" }
                );
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
        // The generator below is a method of the returned object, whose own `this` is that object.
        // eslint-disable-next-line @typescript-eslint/no-this-alias
        const service = this;
        // The runner that ran it: the same model reloaded if it was unloaded since these checks.
        let ranOn = runner;
        return {
            definition,
            promptTokens: promptTokens.length,
            maxTokens: sampling.maxTokens,
            resources: () => ranOn.resources(),
            async *events() {
                let done: Extract<GenerationEvent, { type: "done" }> | undefined;
                let failed = false;
                const { lease, finish } = await service.measuredLease(definition, signal, keepAliveMs);
                ranOn = lease.runner;
                let engineEvents: AsyncIterator<GenerationEvent> | undefined;
                try {
                    const input = { promptTokens, sampling, cacheKey, ...(text && { text }), ...(requested === undefined && { maxTokensIsDefault: true }) };
                    engineEvents = lease.runner.generate(input, signal)[Symbol.asyncIterator]();
                    // Asked for at once, so the prompt evaluates while the caller is still busy with
                    // "started" (the HTTP layer sends its headers then): a fifth of a small model's TTFT.
                    const firstEngineEvent = engineEvents.next();
                    firstEngineEvent.catch(() => undefined);
                    yield { type: "started", queuedMs: lease.queuedMs };
                    for (let next = await firstEngineEvent; !next.done; next = await engineEvents.next()) {
                        const event = next.value;
                        if (event.type === "done") done = event;
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
                        finish(failed, done);
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
    private async measuredLease(
        definition: ModelDefinition,
        signal: AbortSignal,
        keepAliveMs: number | null | undefined
    ): Promise<{ lease: Lease; finish(failed: boolean, done?: { promptTokens: number; completionTokens: number; cachedTokens: number }): void }> {
        const metrics = this.metricsFor(definition.id);
        const started = this.now();
        const lease = await this.scheduler.acquire(definition, signal, keepAliveMs === undefined ? {} : { keepAliveMs }).catch((error: unknown) => {
            if (!signal.aborted) metrics.record(this.now() - started, true);
            throw error;
        });
        return {
            lease,
            finish: (failed, done) => {
                lease.release();
                metrics.record(this.now() - started, failed, done);
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
