import { QuandexError } from "@quandex/protocol";
import { readServerSentEvents } from "@quandex/protocol/sse";
import type { EmbeddingResult, GenerationEvent, GenerationInput, ModelRunner, OutputConstraint, RunnerResources } from "../Engine.js";
import type { Logger } from "../Logger.js";
import { samplingDefaults } from "../InferenceService.js";
import type { UpstreamAnswer, UpstreamEndpoint } from "./UpstreamEndpoint.js";
import type { UpstreamPool } from "./UpstreamPool.js";

/** One streamed chunk of OpenAI's completions or chat completions, the fields read here. */
interface StreamChunk {
    choices?: Array<{ text?: string | null; delta?: { content?: string | null }; finish_reason?: string | null }>;
    usage?: { prompt_tokens?: number; completion_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } | null } | null;
    /** llama-server's own figures: `cache_n`, prompt tokens reused from its cache. */
    timings?: { cache_n?: number };
    error?: { message?: string } | string;
}

/**
 * Why one attempt failed. `retryable` failures that happen before the first token may go to
 * another endpoint; `endpointFault` ones count toward the endpoint's ejection.
 */
class AttemptFailure extends Error {
    constructor(
        readonly error: QuandexError,
        readonly retryable: boolean,
        readonly endpointFault: boolean
    ) {
        super(error.message);
    }
}

/**
 * A model served by an upstream pool of OpenAI-compatible servers, as a {@link ModelRunner}, so it
 * goes through `InferenceService`, the scheduler's queue and the one request path like a local
 * model. Text goes as text (`tokenizesItself`): the upstream tokenizes and applies its own chat
 * template, and its `usage` gives the token counts.
 *
 * Each generation picks an endpoint ({@link UpstreamPool.pick}); one that fails before its first
 * token (refused connection, 5xx, 429, garbage, a stall) is tried on another endpoint, at most
 * `maxRetries` times; after the first token a failure ends the stream with an error, never a
 * silent replay. Aborting the signal aborts the upstream request, so the server stops generating.
 */
export class UpstreamRunner implements ModelRunner {
    readonly tokenizesItself = true;
    private disposed = false;

    constructor(
        private readonly pool: UpstreamPool,
        private readonly model: { id: string; upstreamModel: string },
        readonly contextSize: number,
        readonly parallel: number,
        private readonly logger: Logger
    ) {}

    /** Nothing runs here: no memory, no layers. The figures an upstream cannot report are null in `metal_stats` (`remote`). */
    resources(): RunnerResources {
        return { backend: "cpu", gpuLayers: 0, acceleratorBytes: 0, totalBytes: 0, remote: true };
    }

    /** The upstream's own `/tokenize` (llama-server and vLLM have one); other servers do not tokenize for clients. */
    async tokenize(text: string): Promise<number[]> {
        const endpoint = this.pickOrThrow(new Set());
        const res = await endpoint.request("/tokenize", { method: "POST", body: { model: this.model.upstreamModel, content: text, prompt: text } }).catch((error: unknown) => {
            throw this.unavailable(`its endpoint ${endpoint.origin} failed (${describeError(error)})`);
        });
        const body = await res.body.text();
        const tokens = res.statusCode === 200 ? (safeJson(body) as { tokens?: unknown } | undefined)?.tokens : undefined;
        if (!Array.isArray(tokens)) throw this.unavailable(`its endpoint ${endpoint.origin} does not tokenize (/tokenize answered ${res.statusCode})`);
        return tokens as number[];
    }

    /** The upstream enforces response formats itself (vLLM, SGLang and llama-server do); one it cannot take refuses the request. */
    async checkConstraint(_constraint: OutputConstraint): Promise<void> {}

    async *generate(input: GenerationInput, signal: AbortSignal): AsyncGenerator<GenerationEvent> {
        this.assertAlive();
        const chat = input.text !== undefined && "messages" in input.text;
        const path = chat ? "/v1/chat/completions" : "/v1/completions";
        const body = this.body(input);
        const tried = new Set<UpstreamEndpoint>();
        for (let attempt = 0; ; attempt++) {
            const endpoint = this.pickOrThrow(tried);
            tried.add(endpoint);
            let firstToken = false;
            try {
                for await (const event of this.attempt(endpoint, path, body, signal)) {
                    firstToken = true;
                    yield event;
                }
                return;
            } catch (failure) {
                if (signal.aborted) return;
                if (!(failure instanceof AttemptFailure)) throw failure;
                if (failure.endpointFault) endpoint.failed();
                const canRetry = !firstToken && failure.retryable && attempt < this.pool.config.maxRetries && this.pool.pick(tried) !== null;
                this.logger.warn({ pool: this.pool.name, model: this.model.id, endpoint: endpoint.origin, err: failure.message, retry: canRetry }, "upstream request failed");
                if (!canRetry) throw failure.error;
            }
        }
    }

    async embed(inputs: readonly string[], signal: AbortSignal): Promise<EmbeddingResult> {
        this.assertAlive();
        const endpoint = this.pickOrThrow(new Set());
        endpoint.outstanding++;
        try {
            const res = await this.send(endpoint, "/v1/embeddings", { model: this.model.upstreamModel, input: [...inputs] }, signal);
            const text = await res.body.text();
            const parsed = safeJson(text) as { data?: Array<{ embedding?: unknown; index?: number }>; usage?: { prompt_tokens?: number } } | undefined;
            if (!parsed || !Array.isArray(parsed.data) || parsed.data.length !== inputs.length || !parsed.data.every((d) => Array.isArray(d.embedding))) {
                throw this.failure(endpoint, "answered /v1/embeddings with something that is not an embedding list", true, true).error;
            }
            endpoint.succeeded();
            const ordered = [...parsed.data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
            return { vectors: ordered.map((d) => unit(d.embedding as number[])), promptTokens: parsed.usage?.prompt_tokens ?? 0 };
        } catch (error) {
            if (error instanceof AttemptFailure) {
                if (error.endpointFault) endpoint.failed();
                throw error.error;
            }
            throw error;
        } finally {
            endpoint.outstanding--;
        }
    }

    async dispose(): Promise<void> {
        this.disposed = true;
    }

    /** One request to one endpoint; yields the generation's events, throws {@link AttemptFailure}. */
    private async *attempt(endpoint: UpstreamEndpoint, path: string, body: Record<string, unknown>, signal: AbortSignal): AsyncGenerator<GenerationEvent> {
        const upstream = new AbortController();
        const abort = (): void => upstream.abort();
        signal.addEventListener("abort", abort, { once: true });
        endpoint.outstanding++;
        let batchSize = endpoint.outstanding;
        const started = performance.now();
        // Whether the upstream's body was read to its end: then its keep-alive connection goes back
        // to the pool. Aborting a finished request would close it, and the next request would pay a
        // new connection (llama-server closes its streamed connections itself; other servers keep them).
        let bodyEnded = false;
        try {
            const res = await this.send(endpoint, path, body, upstream.signal);
            const contentType = String(res.headers["content-type"] ?? "");
            if (!contentType.includes("text/event-stream")) {
                const text = (await res.body.text().catch(() => "")).slice(0, 200);
                throw this.failure(endpoint, `answered with ${contentType || "no content type"}, not an event stream: ${JSON.stringify(text)}`, true, true);
            }
            let finishReason: "stop" | "length" | null = null;
            let usage: StreamChunk["usage"] = null;
            let cacheN: number | undefined;
            let chunks = 0;
            let sawDone = false;
            let drain: NodeJS.Timeout | undefined;
            try {
                for await (const { data } of readServerSentEvents(res.body)) {
                    if (signal.aborted) return;
                    // The body ends right after [DONE]; reading on to its end keeps the connection,
                    // and a server that holds it open is cut off after a second.
                    if (sawDone) continue;
                    if (data === "[DONE]") {
                        sawDone = true;
                        drain = setTimeout(() => upstream.abort(), 1_000);
                        continue;
                    }
                    const chunk = safeJson(data) as StreamChunk | undefined;
                    if (!chunk || typeof chunk !== "object")
                        throw this.failure(endpoint, `sent a stream chunk that is not JSON: ${JSON.stringify(data.slice(0, 200))}`, true, true);
                    if (chunk.error) {
                        const message = typeof chunk.error === "string" ? chunk.error : (chunk.error.message ?? JSON.stringify(chunk.error));
                        throw this.failure(endpoint, `sent an error in its stream: ${message.slice(0, 300)}`, true, true);
                    }
                    if (chunk.usage) usage = chunk.usage;
                    if (typeof chunk.timings?.cache_n === "number") cacheN = chunk.timings.cache_n;
                    const choice = chunk.choices?.[0];
                    if (!choice) continue;
                    const text = choice.text ?? choice.delta?.content ?? "";
                    if (endpoint.outstanding > batchSize) batchSize = endpoint.outstanding;
                    if (text !== "") {
                        chunks++;
                        if (chunks === 1) endpoint.succeeded();
                        yield { type: "text", text };
                    }
                    if (choice.finish_reason) finishReason = choice.finish_reason === "length" ? "length" : "stop";
                }
                bodyEnded = true;
            } catch (error) {
                if (error instanceof AttemptFailure || signal.aborted) throw error;
                // Cut off after [DONE] (see `drain`): the generation itself is complete.
                if (!sawDone) throw this.connectionFailure(endpoint, error, "while streaming");
            } finally {
                clearTimeout(drain);
            }
            if (signal.aborted) return;
            if (finishReason === null) throw this.failure(endpoint, "ended its stream before the generation finished", true, true);
            if (chunks === 0) endpoint.succeeded();
            const promptTokens = usage?.prompt_tokens ?? 0;
            yield {
                type: "done",
                finishReason,
                promptTokens,
                // Without `usage` (servers that ignore stream_options) each text chunk is one token, as these servers stream them.
                completionTokens: usage?.completion_tokens ?? chunks,
                cachedTokens: Math.min(promptTokens, usage?.prompt_tokens_details?.cached_tokens ?? cacheN ?? 0),
                batchSize,
                generationMs: performance.now() - started,
                stopSequence: null
            };
        } finally {
            endpoint.outstanding--;
            signal.removeEventListener("abort", abort);
            // Ends the upstream request if the caller left early (disconnect, a sibling's failure).
            if (!bodyEnded) upstream.abort();
        }
    }

    /** Sends a request; a refusal (status other than 200) becomes an {@link AttemptFailure}. */
    private async send(endpoint: UpstreamEndpoint, path: string, body: Record<string, unknown>, signal: AbortSignal): Promise<UpstreamAnswer> {
        let res: UpstreamAnswer;
        try {
            res = await endpoint.request(path, { method: "POST", body, signal });
        } catch (error) {
            if (signal.aborted) throw error;
            throw this.connectionFailure(endpoint, error, "before answering");
        }
        if (res.statusCode === 200) return res;
        const text = (await res.body.text().catch(() => "")).slice(0, 2_000);
        const parsed = safeJson(text) as { error?: { message?: string } | string; message?: string } | undefined;
        const message = (typeof parsed?.error === "string" ? parsed.error : (parsed?.error?.message ?? parsed?.message ?? text)).slice(0, 300);
        if (res.statusCode === 429) {
            // The upstream's own limit, not the client's: a 503 with Retry-After, on no key's quota.
            const retryAfter = Math.max(1, Math.ceil(Number(res.headers["retry-after"]) || 1));
            const error = new QuandexError(
                "model_unavailable",
                { model: this.model.id, detail: `upstream pool '${this.pool.name}' is at its own rate limit (429 from ${endpoint.origin}); retry after ${retryAfter} s.` },
                { retryAfter }
            );
            throw new AttemptFailure(error, true, false);
        }
        if (res.statusCode === 401 || res.statusCode === 403) {
            throw this.failure(endpoint, `refused Quandex's credentials (${res.statusCode}); check the endpoint's api_key_env`, true, true);
        }
        if (res.statusCode >= 400 && res.statusCode < 500) {
            // The request itself was refused (too long, a format it cannot take): the same on every endpoint.
            const error = new QuandexError(
                "invalid_parameter",
                { param: "model", detail: `upstream pool '${this.pool.name}' refused the request (${res.statusCode}): ${message}` },
                { param: "model" }
            );
            throw new AttemptFailure(error, false, false);
        }
        throw this.failure(endpoint, `answered ${res.statusCode}: ${message}`, true, true, res.statusCode === 503 ? 1 : undefined);
    }

    private body(input: GenerationInput): Record<string, unknown> {
        const { sampling, text } = input;
        const constraint = sampling.constraint;
        return {
            model: this.model.upstreamModel,
            ...(text && "messages" in text ? { messages: text.messages.map((m) => ({ role: m.role, content: m.content })) } : { prompt: text?.prompt ?? [...input.promptTokens] }),
            stream: true,
            stream_options: { include_usage: true },
            // The upstream's own default when the client named none: its context, not a guess of it here.
            ...(!input.maxTokensIsDefault && { max_tokens: sampling.maxTokens }),
            temperature: sampling.temperature,
            top_p: sampling.topP,
            seed: sampling.seed,
            // Fields outside OpenAI's API go only when they differ from the common default: strict
            // servers (OpenAI itself, another Quandex) refuse unknown fields.
            ...(sampling.topK !== samplingDefaults.topK && { top_k: sampling.topK }),
            ...(sampling.stop.length > 0 && { stop: [...sampling.stop] }),
            ...(sampling.frequencyPenalty && { frequency_penalty: sampling.frequencyPenalty }),
            ...(sampling.presencePenalty && { presence_penalty: sampling.presencePenalty }),
            ...(sampling.repeatPenalty !== samplingDefaults.repeatPenalty && { repeat_penalty: sampling.repeatPenalty, repetition_penalty: sampling.repeatPenalty }),
            ...(sampling.ignoreEos && { ignore_eos: true }),
            ...(constraint && {
                response_format:
                    constraint.type === "json" ? { type: "json_object" } : { type: "json_schema", json_schema: { name: "output", schema: constraint.schema, strict: true } }
            })
        };
    }

    private pickOrThrow(tried: ReadonlySet<UpstreamEndpoint>): UpstreamEndpoint {
        const endpoint = this.pool.pick(tried);
        if (endpoint) return endpoint;
        const { healthy, total } = this.pool.health();
        throw this.unavailable(`upstream pool '${this.pool.name}' has no healthy endpoint (${healthy}/${total} healthy).`, 1);
    }

    private connectionFailure(endpoint: UpstreamEndpoint, error: unknown, when: string): AttemptFailure {
        return this.failure(endpoint, `failed ${when} (${describeError(error)})`, true, true);
    }

    private failure(endpoint: UpstreamEndpoint, what: string, retryable: boolean, endpointFault: boolean, retryAfter?: number): AttemptFailure {
        return new AttemptFailure(this.unavailable(`upstream pool '${this.pool.name}': ${endpoint.origin} ${what}`, retryAfter), retryable, endpointFault);
    }

    private assertAlive(): void {
        if (this.disposed) throw this.unavailable("it was unloaded", 1);
    }

    private unavailable(detail: string, retryAfter?: number): QuandexError {
        return new QuandexError("model_unavailable", { model: this.model.id, detail }, retryAfter === undefined ? {} : { retryAfter });
    }
}

/** undici's errors say little in `message`; the code names the cause (DNS, TLS, refused, timeout). */
function describeError(error: unknown): string {
    if (!(error instanceof Error)) return String(error);
    const code = (error as NodeJS.ErrnoException).code;
    const cause = error.cause instanceof Error ? ((error.cause as NodeJS.ErrnoException).code ?? error.cause.message) : undefined;
    const named: Record<string, string> = {
        ENOTFOUND: "DNS: the host name does not resolve",
        EAI_AGAIN: "DNS: the lookup failed",
        ECONNREFUSED: "connection refused",
        ECONNRESET: "connection reset",
        UND_ERR_SOCKET: "the connection closed",
        UND_ERR_CONNECT_TIMEOUT: "no connection within the connect timeout",
        UND_ERR_HEADERS_TIMEOUT: "no answer within the idle timeout",
        UND_ERR_BODY_TIMEOUT: "the stream stalled past the idle timeout",
        DEPTH_ZERO_SELF_SIGNED_CERT: "TLS: self-signed certificate",
        SELF_SIGNED_CERT_IN_CHAIN: "TLS: self-signed certificate in the chain",
        UNABLE_TO_VERIFY_LEAF_SIGNATURE: "TLS: the certificate cannot be verified",
        CERT_HAS_EXPIRED: "TLS: the certificate has expired",
        ERR_TLS_CERT_ALTNAME_INVALID: "TLS: the certificate is for another host",
        ERR_SSL_WRONG_VERSION_NUMBER: "TLS: the server does not speak TLS"
    };
    const key = [code, cause].find((c) => c !== undefined && named[c] !== undefined);
    if (key) return named[key]!;
    if (/tls|ssl|certificate/i.test(`${error.message} ${cause ?? ""}`)) return `TLS: ${cause ?? error.message}`;
    return [error.message, cause].filter(Boolean).join(": ");
}

function safeJson(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return undefined;
    }
}

/** Scales a vector to unit length, as `EmbeddingResult` promises (most servers already do). */
function unit(vector: number[]): number[] {
    const norm = Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
    return norm > 0 ? vector.map((v) => v / norm) : vector;
}
