import { readFileSync } from "node:fs";
import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { QuandexError, type Backend } from "@quandex/protocol";
import { plainChatTemplate } from "../chat/plainChatTemplate.js";
import type { ChatMessage, EmbeddingResult, GenerationEvent, GenerationInput, LoadRequest, ModelRunner, OutputConstraint, RenderedChat, RunnerResources } from "../Engine.js";
import { toGrammarSchema } from "../constraints/jsonSchemaSubset.js";
import type { Logger } from "../Logger.js";
import { StopSequenceMatcher } from "../StopSequenceMatcher.js";
import type { LlamaServerExit, LlamaServerProcess } from "./LlamaServerProcess.js";
import { loopbackRequest, type LoopbackAnswer } from "./loopbackHttp.js";
import { readServerSentEvents } from "@quandex/protocol/sse";
import { SharedPrefixes } from "./SharedPrefixes.js";
import { SlotRouter, type SlotChoice } from "./SlotRouter.js";

/** One streamed `/completion` chunk, the fields used here. */
interface CompletionChunk {
    content?: string;
    /** With `return_tokens`: the token this chunk adds (tokens held back for an incomplete character are not repeated). */
    tokens?: number[];
    stop?: boolean;
    tokens_predicted?: number;
    stop_type?: string;
    truncated?: boolean;
    /** On the last chunk: `cache_n`, the prompt tokens reused from the slot's cache. */
    timings?: { cache_n?: number };
    error?: { message?: string; code?: number; type?: string };
}

interface Tracker {
    maxBatch: number;
}

/** What a runner is made of; built by {@link LlamaServerRunner.create}. */
interface LlamaServerRunnerParts {
    server: LlamaServerProcess;
    id: string;
    contextSize: number;
    parallel: number;
    prefixTokens: readonly number[];
    overridesOutputParser: boolean;
    backend: Backend;
    modelBytes: number;
    /** The GGUF carries a chat template: chats are rendered with it by llama-server (`/apply-template`). */
    hasChatTemplate: boolean;
    /** Starts the model's embeddings child (see {@link LlamaServerRunner.embed}); without it, embeddings are refused. */
    startEmbeddingServer?: () => Promise<LlamaServerProcess>;
    /** The child's `--slot-save-path`, for prefixes shared across slots; without it, none are. */
    slotSaveDir?: string;
    logger: Logger;
}

/** A prompt is shared across slots from this many tokens on (see {@link SharedPrefixes}). */
const SHARED_PREFIX_MIN_TOKENS = 256;
/** The shared prefixes' files of one model, at most. */
const SHARED_PREFIX_MAX_BYTES = 256 * 1024 * 1024;

/**
 * A model served by its own llama-server child. Generations go through `/completion` with the
 * prompt as token ids (tokenized here by `/tokenize`, BOS as the in-process engine adds it), so no
 * chat template or output parser stands between the model and the user: text is never refused
 * for what the model generated. Stop sequences are matched here, as in-process, and a stop or a
 * client disconnect aborts the upstream request, which frees the server's slot.
 *
 * `batchSize` is the largest number of this model's generations in flight at the same time (from
 * the request to the child until its last token) while a request ran. llama-server evaluates every
 * busy slot, prompt or next token, in one batch per step, so that count is the batch this
 * request's tokens were decoded in; the server itself does not report it.
 */
export class LlamaServerRunner implements ModelRunner {
    private readonly decoding = new Set<Tracker>();
    /**
     * One keep-alive connection for `/tokenize`, which every request makes before its stream, used
     * only while no generation runs here: it saves a single stream ~0.2 ms of TTFT, but under
     * concurrent streams the bench measured reuse slower than fresh connections (85M model, 8
     * streams: TTFT p50 132 against 65 ms), as llama-server's HTTP threads close busy keep-alive
     * connections and the call has to go again.
     */
    private readonly pool = new http.Agent({ keepAlive: true, maxSockets: 1 });
    private readonly exitListeners: Array<(reason: string) => void> = [];
    private readonly slots: SlotRouter;
    private readonly prefixes: SharedPrefixes | null;
    private disposed = false;
    private stoppedByUs = false;
    /** From llama.cpp's load log, read once: later request logs push it out of the log tail. */
    private readonly loadReport: { gpuLayers: number; acceleratorBytes: number };

    private readonly server: LlamaServerProcess;
    private readonly id: string;
    readonly contextSize: number;
    readonly parallel: number;
    /** Tokens llama.cpp puts before a text with `add_special` (BOS when the model wants one). */
    private readonly prefixTokens: readonly number[];
    /** Whether this llama-server takes {@link acceptAnyOutput} (see there). */
    private readonly overridesOutputParser: boolean;
    private readonly backend: Backend;
    private readonly modelBytes: number;
    private readonly hasChatTemplate: boolean;
    private readonly logger: Logger;

    private readonly startEmbeddingServer?: () => Promise<LlamaServerProcess>;
    private embeddingServer: Promise<LlamaServerProcess> | undefined;

    private constructor(parts: LlamaServerRunnerParts) {
        ({
            server: this.server,
            id: this.id,
            contextSize: this.contextSize,
            parallel: this.parallel,
            prefixTokens: this.prefixTokens,
            overridesOutputParser: this.overridesOutputParser,
            backend: this.backend,
            modelBytes: this.modelBytes,
            hasChatTemplate: this.hasChatTemplate,
            logger: this.logger
        } = parts);
        if (parts.startEmbeddingServer) this.startEmbeddingServer = parts.startEmbeddingServer;
        const server = parts.server;
        this.slots = new SlotRouter(parts.parallel);
        this.prefixes =
            parts.slotSaveDir === undefined || parts.parallel < 2
                ? null
                : new SharedPrefixes(server.url, {
                      dir: parts.slotSaveDir,
                      minTokens: SHARED_PREFIX_MIN_TOKENS,
                      maxBytes: SHARED_PREFIX_MAX_BYTES,
                      onError: (what, error) => this.logger.warn({ model: this.id, engine: "llama-server", err: describeError(error) }, `could not ${what}`)
                  });
        this.loadReport = readLoadReport(server.recentLog());
        server.onExit((exit) => {
            this.pool.destroy();
            this.prefixes?.dispose();
            if (this.stoppedByUs) return;
            this.disposed = true;
            for (const listener of this.exitListeners) listener(exit.reason);
        });
    }

    /** Wraps a started server: learns how the model prefixes a prompt. Stops the server on failure. */
    static async create(
        server: LlamaServerProcess,
        request: LoadRequest,
        model: { backend: Backend; modelBytes: number; hasChatTemplate: boolean; startEmbeddingServer?: () => Promise<LlamaServerProcess>; slotSaveDir?: string },
        logger: Logger
    ): Promise<LlamaServerRunner> {
        const { backend, modelBytes, hasChatTemplate, startEmbeddingServer, slotSaveDir } = model;
        try {
            const prefixTokens = await specialPrefix(server.url);
            const overridesOutputParser = await acceptsOutputParser(server.url, prefixTokens);
            if (!overridesOutputParser) {
                logger.warn(
                    { model: request.id, engine: "llama-server" },
                    "this llama-server refuses Quandex's output-parser override: a model that emits invalid UTF-8 may fail requests with its parser's error"
                );
            }
            const runner = new LlamaServerRunner({
                server,
                id: request.id,
                contextSize: request.options.contextSize,
                parallel: request.options.parallel,
                prefixTokens,
                overridesOutputParser,
                backend,
                modelBytes,
                hasChatTemplate,
                ...(startEmbeddingServer && { startEmbeddingServer }),
                ...(slotSaveDir !== undefined && { slotSaveDir }),
                logger
            });
            logger.info(
                { model: request.id, engine: "llama-server", url: server.url, pid: server.pid, ...request.options, gpuLayers: runner.loadReport.gpuLayers },
                "model loaded"
            );
            return runner;
        } catch (error) {
            // A child that died during these first calls explains the failure better than the fetch does.
            const exit = server.exit ?? (await Promise.race([server.exited, sleep(1_000).then(() => null)]));
            await server.stop();
            if (exit) throw new Error(`llama-server ${exit.reason} while loading the model`, { cause: error });
            throw error;
        }
    }

    /** The llama-server's pid, for operators and crash tests. */
    get pid(): number | null {
        return this.server.pid;
    }

    get url(): string {
        return this.server.url;
    }

    resources(): RunnerResources {
        const { gpuLayers, acceleratorBytes } = this.loadReport;
        const backend: Backend = gpuLayers > 0 ? this.backend : "cpu";
        // Resident memory of the server process: weights it touched, KV cache, compute buffers.
        const rss = this.server.pid === null ? 0 : residentBytes(this.server.pid);
        return {
            backend,
            gpuLayers,
            acceleratorBytes: backend === "cpu" ? 0 : acceleratorBytes,
            totalBytes: Math.max(rss + (backend === "cpu" ? 0 : acceleratorBytes), this.modelBytes)
        };
    }

    async tokenize(text: string): Promise<number[]> {
        this.assertAlive();
        // parse_special false: a prompt's text is text; "<s>" typed by a user is not a control token.
        const body = await this.call<{ tokens: number[] }>("/tokenize", { content: text, add_special: false, parse_special: false });
        return [...this.prefixTokens, ...body.tokens];
    }

    /**
     * The model's own chat template, rendered by llama-server (`/apply-template`, its Jinja engine),
     * so both engines show a model the conversation the way its template says; a model without one
     * gets the plain template, as in-process. The rendered text holds the template's special tokens
     * as text, so it is tokenized with them parsed (as llama-server's own chat endpoint does); the
     * model's end-of-turn token ends the generation like EOS does.
     */
    async renderChat(messages: readonly ChatMessage[]): Promise<RenderedChat> {
        this.assertAlive();
        if (!this.hasChatTemplate) {
            const text = plainChatTemplate.render(messages);
            return { promptTokens: await this.tokenize(text), text, stop: [...plainChatTemplate.stop], stopTokens: [], template: plainChatTemplate.name };
        }
        const { prompt } = await this.call<{ prompt: string }>("/apply-template", { messages: messages.map((m) => ({ role: m.role, content: m.content })) });
        const { tokens } = await this.call<{ tokens: number[] }>("/tokenize", { content: prompt, add_special: false, parse_special: true });
        // Templates that do not write the BOS themselves still get it when the model wants one (as in-process).
        const promptTokens = this.prefixTokens.length > 0 && tokens[0] !== this.prefixTokens[0] ? [...this.prefixTokens, ...tokens] : tokens;
        return { promptTokens, text: prompt, stop: [], stopTokens: [], template: "model (llama-server)" };
    }

    onExit(listener: (reason: string) => void): void {
        const exit = this.server.exit;
        if (exit && !this.stoppedByUs) queueMicrotask(() => listener(exit.reason));
        else this.exitListeners.push(listener);
    }

    async *generate(input: GenerationInput, signal: AbortSignal): AsyncGenerator<GenerationEvent> {
        this.assertAlive();
        const { sampling } = input;
        const upstream = new AbortController();
        const abortUpstream = (): void => upstream.abort();
        signal.addEventListener("abort", abortUpstream, { once: true });
        // A child that dies mid-stream may leave the socket open a moment; this ends the read at once.
        const unsubscribe = this.server.onExit(() => upstream.abort());
        const tracker: Tracker = { maxBatch: 0 };
        const stops = new StopSequenceMatcher(sampling.stop);
        const stopTokens = new Set(sampling.stopTokens ?? []);
        const started = performance.now();
        let completionTokens = 0;
        let finishReason: "stop" | "length" = "stop";
        const cacheKey = input.cacheKey ?? null;
        let slot = this.slots.take(input.promptTokens, cacheKey);
        // What the slot holds once this ends: the prompt and every token received; unknown if cut off.
        const generated: number[] = [];
        let finished = false;
        // Prompt tokens evaluated for this request before its generation (SharedPrefixes): llama-server counts them as cached.
        let prefilled = 0;
        try {
            if (this.prefixes) {
                const before = slot.cachePrompt ? slot.reused : 0;
                const prepared = await this.prefixes.prepare(slot.slot, input.promptTokens, cacheKey, before, upstream.signal);
                prefilled = prepared.evaluated;
                // The slot now holds this key's prompt (restored or evaluated), so llama-server may reuse it.
                if (prepared.holds !== before) slot = { ...slot, cachePrompt: slot.cachePrompt || prepared.holds > 0, reused: prepared.holds - prepared.evaluated };
            }
            this.joinBatch(tracker);
            const res = await loopbackRequest(this.server.url, "/completion", { body: this.completionBody(input, slot), signal: upstream.signal });
            if (res.status !== 200) throw await this.upstreamError(res);
            let stopped = false;
            let final: CompletionChunk | undefined;
            for await (const { data } of readServerSentEvents(res.body)) {
                // Chunks already received must not reach a caller that stopped listening.
                if (signal.aborted || data === "[DONE]") break;
                const chunk = JSON.parse(data) as CompletionChunk;
                if (chunk.error) throw this.unavailable(`llama-server answered: ${chunk.error.message ?? JSON.stringify(chunk.error)}`);
                if (chunk.tokens) generated.push(...chunk.tokens);
                if (typeof chunk.tokens_predicted === "number") completionTokens = Math.max(completionTokens, chunk.tokens_predicted);
                // A chat template's end-of-turn token ends the generation like EOS, uncounted and unsent, as in-process.
                if (stopTokens.size > 0 && chunk.tokens?.some((t) => stopTokens.has(t))) {
                    completionTokens--;
                    final = { stop: true, stop_type: "eos" };
                    break;
                }
                const piece = stops.push(chunk.content ?? "");
                if (piece.emit !== "") yield { type: "text", text: piece.emit };
                if (piece.stopped) {
                    stopped = true;
                    break;
                }
                if (chunk.stop) {
                    final = chunk;
                    break;
                }
            }
            this.decoding.delete(tracker);
            if (signal.aborted) return;
            if (!stopped) {
                if (!final) throw this.unavailable("the stream from llama-server ended early");
                const rest = stops.flush();
                if (rest !== "") yield { type: "text", text: rest };
                finishReason = final.stop_type === "limit" || final.truncated === true ? "length" : "stop";
            }
            finished = true;
            const cached = final?.timings?.cache_n;
            yield {
                type: "done",
                finishReason,
                promptTokens: input.promptTokens.length,
                completionTokens,
                cachedTokens: typeof cached === "number" ? Math.max(0, Math.min(cached, input.promptTokens.length) - prefilled) : slot.cachePrompt ? slot.reused : 0,
                batchSize: Math.max(1, tracker.maxBatch),
                generationMs: performance.now() - started,
                stopSequence: stops.matched
            };
        } catch (error) {
            if (signal.aborted) return;
            throw await this.explain(error);
        } finally {
            this.decoding.delete(tracker);
            // llama-server itself compares what a slot holds with the next prompt, so a record that is
            // a little short (tokens in flight when a stop closed the stream) only affects the choice of slot.
            this.slots.give(slot.slot, finished ? [...input.promptTokens, ...generated] : null, cacheKey);
            unsubscribe();
            signal.removeEventListener("abort", abortUpstream);
            // Leaving the loop early (stop sequence, disconnect) closes the upstream request,
            // which makes llama-server release the slot.
            upstream.abort();
        }
    }

    /**
     * llama-server compiles a request's `json_schema` into a grammar itself (llama.cpp's
     * json-schema-to-grammar); Quandex first holds the schema to the subset that both engines
     * enforce exactly (`toGrammarSchema`), so a schema means the same on either engine.
     */
    async checkConstraint(constraint: OutputConstraint): Promise<void> {
        llamaServerSchema(constraint);
    }

    /**
     * Embeds on a second child of the same model started with `--embeddings --pooling mean`, on the
     * first request, and kept until unload: a llama-server started for embeddings serves no
     * completions, so the generating child cannot do both. Its memory is the model's once more
     * (not counted in the memory budget's estimate). Vectors are scaled to unit length, as the
     * in-process engine's are.
     */
    async embed(inputs: readonly string[], signal: AbortSignal): Promise<EmbeddingResult> {
        if (this.disposed) throw new QuandexError("model_unavailable", { model: this.id, detail: "it was unloaded" });
        if (!this.startEmbeddingServer)
            throw new QuandexError("invalid_parameter", { param: "model", detail: `the engine running '${this.id}' does not compute embeddings.` }, { param: "model" });
        this.embeddingServer ??= this.startEmbeddingServer().catch((error: unknown) => {
            this.embeddingServer = undefined;
            throw new QuandexError(
                "model_unavailable",
                { model: this.id, detail: `its embeddings server did not start: ${error instanceof Error ? error.message : String(error)}` },
                { retryAfter: 5 }
            );
        });
        const server = await this.embeddingServer;
        if (this.disposed) throw new QuandexError("model_unavailable", { model: this.id, detail: "it was unloaded" });
        const res = await loopbackRequest(server.url, "/v1/embeddings", { body: { input: [...inputs], encoding_format: "float" }, signal });
        if (res.status !== 200) throw await this.upstreamError(res);
        const answer = await res.json<{ data: Array<{ index: number; embedding: number[] }>; usage?: { prompt_tokens?: number } }>();
        const vectors = [...answer.data]
            .sort((a, b) => a.index - b.index)
            .map((d) => {
                const norm = Math.hypot(...d.embedding);
                return norm > 0 ? d.embedding.map((x) => x / norm) : d.embedding;
            });
        let promptTokens = answer.usage?.prompt_tokens;
        if (promptTokens === undefined) promptTokens = (await Promise.all(inputs.map((text) => this.tokenize(text)))).reduce((sum, tokens) => sum + tokens.length, 0);
        return { vectors, promptTokens };
    }

    async dispose(): Promise<void> {
        const running = this.server.exit === null;
        if (running) this.stoppedByUs = true;
        this.disposed = true;
        this.pool.destroy();
        this.prefixes?.dispose();
        const embeddings = this.embeddingServer;
        this.embeddingServer = undefined;
        if (embeddings)
            await embeddings.then(
                (server) => server.stop(),
                () => undefined
            );
        await this.server.stop();
        if (running) this.logger.info({ model: this.id, engine: "llama-server" }, "model unloaded");
    }

    private completionBody(input: GenerationInput, slot: SlotChoice): Record<string, unknown> {
        const { sampling } = input;
        return {
            prompt: input.promptTokens,
            n_predict: sampling.maxTokens,
            stream: true,
            // The slot Quandex chose (SlotRouter); llama-server reuses its KV cache for the shared
            // prompt prefix only when that slot last held the same cache key's prompt.
            id_slot: slot.slot,
            cache_prompt: slot.cachePrompt,
            return_tokens: true,
            temperature: sampling.temperature,
            top_k: sampling.topK,
            top_p: sampling.topP,
            // The in-process engine's chain: no min-p, typical, DRY, XTC or mirostat.
            min_p: 0,
            typical_p: 1,
            repeat_penalty: sampling.repeatPenalty,
            repeat_last_n: 64,
            presence_penalty: sampling.presencePenalty ?? 0,
            frequency_penalty: sampling.frequencyPenalty ?? 0,
            dry_multiplier: 0,
            xtc_probability: 0,
            mirostat: 0,
            // llama.cpp reads 0xFFFFFFFF as "pick a random seed"; every other seed is reproducible.
            seed: sampling.seed === 0xffffffff ? 0xfffffffe : sampling.seed,
            ignore_eos: sampling.ignoreEos,
            n_probs: 0,
            ...(sampling.constraint && { json_schema: llamaServerSchema(sampling.constraint) }),
            ...(this.overridesOutputParser && { chat_parser: acceptAnyOutput })
        };
    }

    /** Counts a generation in from its request to its last token; everyone in flight sees the new count. */
    private joinBatch(tracker: Tracker): void {
        this.decoding.add(tracker);
        const size = this.decoding.size;
        for (const t of this.decoding) if (size > t.maxBatch) t.maxBatch = size;
    }

    /** Turns a failed request into the error users see: the crash reason when the server died. */
    private async explain(error: unknown): Promise<unknown> {
        if (error instanceof QuandexError) return error;
        // A killed server closes the socket a moment before its watchdog reports the exit.
        const exit = this.server.exit ?? (await Promise.race([this.server.exited, sleep(1_000).then(() => null)]));
        if (exit) return this.crashed(exit);
        return this.unavailable(`lost the connection to its llama-server (${describeError(error)})`, error);
    }

    private async upstreamError(res: LoopbackAnswer): Promise<QuandexError> {
        const text = await res.text().catch(() => "");
        let message = text;
        try {
            message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
        } catch {
            // Not JSON; keep the text.
        }
        return this.unavailable(`llama-server answered ${res.status}: ${message.slice(0, 500)}`, undefined, res.status === 503 ? 1 : undefined);
    }

    private async call<T>(route: string, body: object): Promise<T> {
        let res: LoopbackAnswer;
        try {
            res = await loopbackRequest(this.server.url, route, { body, ...(this.decoding.size === 0 && { pool: this.pool }) });
            if (res.status !== 200) throw await this.upstreamError(res);
            return await res.json<T>();
        } catch (error) {
            throw await this.explain(error);
        }
    }

    private assertAlive(): void {
        const exit = this.server.exit;
        if (exit) throw this.crashed(exit);
        if (this.disposed) throw this.unavailable("it was unloaded", undefined, 1);
    }

    private crashed(exit: LlamaServerExit): QuandexError {
        return this.unavailable(`its llama-server process ${exit.reason}`, undefined, 1);
    }

    private unavailable(detail: string, cause?: unknown, retryAfter?: number): QuandexError {
        return new QuandexError("model_unavailable", { model: this.id, detail }, { cause, retryAfter });
    }
}

/**
 * llama-server runs every generated text, `/completion` included, through a chat-output parser;
 * the default one ("Content-only") demands valid UTF-8 and fails the request with 500 "The model
 * produced output that does not match the expected Content-only format" when a model emits
 * arbitrary bytes (a random-weight or broken model does; any model can). This parser, in
 * llama.cpp's serialized PEG form, matches the empty prefix of anything, so parsing always
 * succeeds. `/completion`'s `content` is the raw text either way (invalid bytes arrive as U+FFFD),
 * so nothing else changes.
 */
const acceptAnyOutput = JSON.stringify({ parsers: [{ type: "epsilon" }], rules: {}, root: 0 });

/**
 * Whether the server takes {@link acceptAnyOutput}: a build whose parser format differs refuses it
 * with 400, and then requests go without it (a build without output parsing ignores the field).
 */
async function acceptsOutputParser(url: string, prefixTokens: readonly number[]): Promise<boolean> {
    // n_predict 0 evaluates the prompt and generates nothing.
    const res = await loopbackRequest(url, "/completion", {
        body: { prompt: prefixTokens.length > 0 ? [...prefixTokens] : "a", n_predict: 0, cache_prompt: false, chat_parser: acceptAnyOutput }
    });
    await res.text();
    return res.status === 200;
}

/** What llama.cpp adds before a text when asked for special tokens: the BOS token, or nothing. */
async function specialPrefix(url: string): Promise<number[]> {
    const tokenize = async (addSpecial: boolean): Promise<number[]> => {
        const res = await loopbackRequest(url, "/tokenize", { body: { content: "a", add_special: addSpecial, parse_special: false } });
        if (res.status !== 200) throw new Error(`llama-server's /tokenize answered ${res.status}: ${await res.text()}`);
        const body = await res.json<{ tokens?: unknown }>();
        if (!Array.isArray(body.tokens) || !body.tokens.every((t) => typeof t === "number")) throw new Error("llama-server's /tokenize answered in an unknown shape");
        return body.tokens as number[];
    };
    const [plain, special] = await Promise.all([tokenize(false), tokenize(true)]);
    for (let at = 0; at + plain.length <= special.length; at++) {
        if (plain.every((t, i) => special[at + i] === t)) return special.slice(0, at);
    }
    return [];
}

/**
 * What llama.cpp's load log says about offloading: `load_tensors: offloaded 12/13 layers to GPU`,
 * and buffer sizes such as `CUDA0 model buffer size = 12.50 MiB` (host buffers, `CPU*` and
 * `*_Host`, are not accelerator memory).
 */
export function readLoadReport(lines: readonly string[]): { gpuLayers: number; acceleratorBytes: number } {
    let gpuLayers = 0;
    let acceleratorBytes = 0;
    for (const line of lines) {
        const offloaded = /offloaded (\d+)\/(\d+) layers to GPU/.exec(line);
        if (offloaded) gpuLayers = Number(offloaded[1]);
        const buffer = /\b(\w+)\s+(?:model|KV|compute|RS) buffer size\s*=\s*([\d.]+) MiB/.exec(line);
        if (buffer && !/CPU|Host/i.test(buffer[1]!)) acceleratorBytes += Math.round(Number(buffer[2]) * 1024 * 1024);
    }
    return { gpuLayers, acceleratorBytes };
}

/** `fetch failed` says little; undici puts the socket's error in `cause`. */
function describeError(error: unknown): string {
    if (!(error instanceof Error)) return String(error);
    const cause = error.cause instanceof Error ? `: ${(error.cause as NodeJS.ErrnoException).code ?? error.cause.message}` : "";
    return `${error.message}${cause}`;
}

function residentBytes(pid: number): number {
    try {
        // statm: size resident shared text lib data dt, in pages.
        const resident = Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]);
        return Number.isFinite(resident) ? resident * 4096 : 0;
    } catch {
        return 0;
    }
}

/** The schema llama-server gets for a constraint: `json` is any JSON object, as in the in-process engine. */
function llamaServerSchema(constraint: OutputConstraint): Record<string, unknown> {
    return constraint.type === "json" ? { type: "object" } : toGrammarSchema(constraint.schema);
}
