import type { ApiKey, CreateKeyRequest, HealthResponse, ModelEntry, ModelList, Pull, RotateKeyRequest, StatsResponse } from "@quandex/protocol";
import { APIError, APIUserAbortError, QuandexError } from "./core/errors.js";
import { readEnv } from "./core/readEnv.js";
import type { RequestOptions } from "./core/RequestOptions.js";
import { RequestAttempt } from "./core/RequestAttempt.js";
import { RetryPolicy, retryDefaults } from "./core/RetryPolicy.js";
import { sleep as defaultSleep } from "./core/sleep.js";
import type { OpenedResponse, Stream } from "./core/Stream.js";
import { Generations, type GenerateParams, type GenerateResult, type GenerateStreamChunk } from "./resources/Generations.js";
import { Models, type PullOptions, type WaitUntilReadyOptions } from "./resources/Models.js";
import { Stats, type ModelStatsResult } from "./resources/Stats.js";
import { Usage, type UsageReport } from "./resources/Usage.js";
import { Keys, type CreatedApiKey } from "./resources/Keys.js";

export const DEFAULT_BASE_URL = "http://localhost:8000/v1";
export const DEFAULT_TIMEOUT_MS = 600_000;

export interface QuandexClientOptions {
    /** The API key (`qdx_…`), sent as `Authorization: Bearer`. Defaults to the `QUANDEX_API_KEY` environment variable. */
    apiKey?: string;
    /** Where the JAN API lives, `/v1` included. Defaults to `QUANDEX_BASE_URL`, else `http://localhost:8000/v1`. */
    baseURL?: string;
    /**
     * Milliseconds one attempt may take. A plain call must have its whole answer by then; a stream
     * must have its headers by then, and then may run as long as data or keep-alive pings keep
     * coming (it fails after 60 s of silence, or `timeout` if shorter). Defaults to `600000` (10 minutes).
     */
    timeout?: number;
    /** How many times a failed call is retried (see the README's "Retries"). Defaults to `2`. */
    maxRetries?: number;
    /** The `fetch` to use, e.g. one with a proxy agent, or a fake in tests. Defaults to `globalThis.fetch`. */
    fetch?: typeof fetch;
    /** Waits between retries and polls; injectable for tests. Defaults to a `setTimeout` sleep. */
    sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
    /** The jitter source of the retry backoff, in [0, 1); injectable for tests. Defaults to `Math.random`. */
    random?: () => number;
}

type HttpMethod = "GET" | "POST" | "DELETE";

/**
 * The Quandex client. It owns transport, auth, retries and timeouts; the resource classes only name
 * endpoints. The methods mirror the Python SDK's (`stream_generate` → `streamGenerate`, …).
 *
 * ```ts
 * const client = new QuandexClient({ apiKey: "qdx_…" });
 * const result = await client.generate({ model: "stories260K", prompt: "Once upon a time", max_tokens: 50 });
 * console.log(result.text);
 * ```
 */
export class QuandexClient {
    readonly baseURL: string;
    readonly timeout: number;
    readonly maxRetries: number;
    // Private so that logging the client never prints the key.
    readonly #apiKey: string;
    readonly #fetch: typeof fetch;
    readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
    readonly #retryPolicy: RetryPolicy;
    readonly #generations = new Generations(this);
    readonly #models: Models;
    readonly #stats = new Stats(this);
    readonly #usage = new Usage(this);
    readonly #keys = new Keys(this);

    /** @throws QuandexError when no API key is given or found, or an option is invalid. */
    constructor(options: QuandexClientOptions = {}) {
        const apiKey = options.apiKey ?? readEnv("QUANDEX_API_KEY");
        if (apiKey === undefined || apiKey === "") {
            throw new QuandexError("No API key: pass `apiKey` to QuandexClient or set the QUANDEX_API_KEY environment variable.");
        }
        this.#apiKey = apiKey;
        this.baseURL = (options.baseURL ?? readEnv("QUANDEX_BASE_URL") ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
        if (!/^https?:\/\//i.test(this.baseURL)) throw new QuandexError(`baseURL must be an http(s) URL, got '${this.baseURL}'.`);
        this.timeout = validTimeout(options.timeout ?? DEFAULT_TIMEOUT_MS, "timeout");
        this.maxRetries = validRetries(options.maxRetries ?? retryDefaults.maxRetries);
        const fetchImpl = options.fetch ?? globalThis.fetch;
        if (typeof fetchImpl !== "function") throw new QuandexError("No fetch here: pass the `fetch` option.");
        // Called unbound: a browser's fetch throws "Illegal invocation" when called as a method of another object.
        this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
        this.#sleep = options.sleep ?? defaultSleep;
        this.#retryPolicy = new RetryPolicy(options.random);
        this.#models = new Models(this, this.#sleep);
    }

    /** Generates a completion in one answer. `result.text` is `choices[0].text`. */
    generate(params: GenerateParams, options?: RequestOptions): Promise<GenerateResult> {
        return this.#generations.create(params, options);
    }

    /**
     * Streams a completion. The request starts when the loop starts; leaving the loop or aborting
     * the signal closes it and the server stops generating.
     *
     * ```ts
     * for await (const chunk of client.streamGenerate({ model, prompt })) process.stdout.write(chunk.text);
     * ```
     */
    streamGenerate(params: GenerateParams, options?: RequestOptions): Stream<GenerateStreamChunk> {
        return this.#generations.stream(params, options);
    }

    listModels(options?: RequestOptions): Promise<ModelList> {
        return this.#models.list(options);
    }

    /** One model by id or alias. @throws NotFoundError when there is no such model. */
    getModel(model: string, options?: RequestOptions): Promise<ModelEntry> {
        return this.#models.retrieve(model, options);
    }

    /** Starts loading a model (needs the `generate` scope); `waitUntilReady` also waits for it. */
    loadModel(model: string, options?: RequestOptions): Promise<ModelEntry> {
        return this.#models.load(model, options);
    }

    /** Unloads a model; needs the `admin` scope. */
    unloadModel(model: string, options?: RequestOptions): Promise<ModelEntry> {
        return this.#models.unload(model, options);
    }

    /** Deletes a model's file(s) from the server's models dir; needs the `admin` scope. */
    deleteModel(model: string, options?: RequestOptions): Promise<ModelEntry> {
        return this.#models.delete(model, options);
    }

    /**
     * Pulls a model into the server's models dir (`hf:owner/repo:Q4_K_M`, `hf:owner/repo/file.gguf`,
     * or an https URL) and resolves once it is there; `onProgress` sees each update. Needs `admin`.
     *
     * ```ts
     * await client.pullModel("hf:ggml-org/models/tinyllamas/stories260K.gguf", { onProgress: (p) => console.log(p.downloaded_bytes) });
     * ```
     */
    pullModel(source: string, options?: PullOptions): Promise<Pull> {
        return this.#models.pull(source, options);
    }

    /** A pull's progress as a Stream (see `pullModel`). */
    streamPull(source: string, options?: Omit<PullOptions, "onProgress">): Stream<Pull> {
        return this.#models.pullStream(source, options);
    }

    /** One pull's state by id. */
    getPull(id: string, options?: RequestOptions): Promise<Pull> {
        return this.#models.getPull(id, options);
    }

    /** Loads the model if needed and resolves once it is `ready`. */
    waitUntilReady(model: string, options?: WaitUntilReadyOptions): Promise<ModelEntry> {
        return this.#models.waitUntilReady(model, options);
    }

    getStats(options?: RequestOptions): Promise<StatsResponse> {
        return this.#stats.retrieve(options);
    }

    /** The model's /v1/models entry (memory_usage, status, …) joined with its /v1/stats figures. */
    getModelStats(model: string, options?: RequestOptions): Promise<ModelStatsResult> {
        return this.#stats.forModel(model, options);
    }

    /** The calling key's usage and limits (GET /v1/usage). */
    getUsage(options?: RequestOptions): Promise<UsageReport> {
        return this.#usage.retrieve(options);
    }

    /** Every key, never a secret (GET /v1/admin/keys, scope `admin`). */
    listKeys(options?: RequestOptions): Promise<ApiKey[]> {
        return this.#keys.list(options);
    }

    /** A new key; the answer's `key` is its secret, shown this once. Not retried unless `maxRetries` says so. */
    createKey(params: CreateKeyRequest, options?: RequestOptions): Promise<CreatedApiKey> {
        return this.#keys.create(params, options);
    }

    /** A new secret for the key; the old one keeps working for `grace_seconds` (default 3600). Not retried unless `maxRetries` says so. */
    rotateKey(id: string, params?: RotateKeyRequest, options?: RequestOptions): Promise<CreatedApiKey> {
        return this.#keys.rotate(id, params, options);
    }

    /** Revokes a key: it stops working at once. */
    revokeKey(id: string, options?: RequestOptions): Promise<ApiKey> {
        return this.#keys.revoke(id, options);
    }

    /** GET /health, which lives beside `/v1` rather than under it and needs no key. */
    health(options?: RequestOptions): Promise<HealthResponse> {
        return this.request<HealthResponse>("GET", `${this.baseURL.replace(/\/v1$/, "")}/health`, {}, options);
    }

    /**
     * Calls any endpoint and returns its parsed JSON, with the client's auth, retries and errors.
     * @param path Relative to `baseURL` (`/models`), or an absolute URL.
     */
    async request<T>(method: HttpMethod, path: string, init: { body?: unknown } = {}, options: RequestOptions = {}): Promise<T> {
        const { response, attempt } = await this.#send(method, path, init.body, options, false);
        let text: string;
        try {
            text = await response.text();
        } catch (cause) {
            throw attempt.errorFor(cause);
        } finally {
            attempt.release();
        }
        try {
            return JSON.parse(text) as T;
        } catch (cause) {
            throw new QuandexError(`${method} ${path} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`, {
                cause
            });
        }
    }

    /**
     * Sends a request whose answer is an event stream, for Stream.fromSSE. The attempt's timeout
     * stops once the headers are in; the caller's signal keeps governing the open body.
     */
    async openStream(method: HttpMethod, path: string, body: unknown, options: RequestOptions = {}): Promise<OpenedResponse> {
        const { response, attempt } = await this.#send(method, path, body, options, true);
        return { response, release: () => attempt.release() };
    }

    /**
     * The retry loop. It returns at the first 2xx, so a stream that has started is never re-sent;
     * it retries what RetryPolicy allows, up to `maxRetries` times.
     */
    async #send(method: HttpMethod, path: string, body: unknown, options: RequestOptions, stream: boolean): Promise<{ response: Response; attempt: RequestAttempt }> {
        const url = /^https?:\/\//i.test(path) ? path : `${this.baseURL}${path}`;
        const maxRetries = validRetries(options.maxRetries ?? this.maxRetries);
        const timeout = validTimeout(options.timeout ?? this.timeout, "timeout");
        const headers: Record<string, string> = {
            Accept: stream ? "text/event-stream" : "application/json",
            Authorization: `Bearer ${this.#apiKey}`
        };
        if (body !== undefined) headers["Content-Type"] = "application/json";
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const fetchImpl = this.#fetch;

        for (let retry = 0; ; retry++) {
            if (options.signal?.aborted) throw new APIUserAbortError();
            const attempt = new RequestAttempt(options.signal, timeout);
            let response: Response;
            try {
                response = await fetchImpl(url, { method, headers, body: payload, signal: attempt.signal });
            } catch (cause) {
                attempt.release();
                const error = attempt.errorFor(cause);
                if (retry >= maxRetries || !this.#retryPolicy.shouldRetryConnectionError(error)) throw error;
                await this.#sleep(this.#retryPolicy.delayMs(retry), options.signal);
                continue;
            }
            if (response.ok) {
                if (stream) attempt.stopTimer();
                return { response, attempt };
            }
            let errorBody: unknown;
            try {
                errorBody = await readErrorBody(response);
            } catch {
                // The status alone still makes a useful error when the body cannot be read.
                errorBody = undefined;
            } finally {
                attempt.release();
            }
            const error = APIError.fromResponse(response.status, errorBody, response.headers);
            if (retry >= maxRetries || !this.#retryPolicy.shouldRetry(error)) throw error;
            await this.#sleep(this.#retryPolicy.delayMs(retry, response.headers), options.signal);
        }
    }
}

async function readErrorBody(response: Response): Promise<unknown> {
    const text = await response.text();
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

// Invalid settings stop the call rather than fall back silently to a default.
function validTimeout(value: number, name: string): number {
    if (!Number.isFinite(value) || value <= 0) throw new QuandexError(`${name} must be a positive number of milliseconds, got ${value}.`);
    return value;
}

function validRetries(value: number): number {
    if (!Number.isInteger(value) || value < 0) throw new QuandexError(`maxRetries must be a whole number >= 0, got ${value}.`);
    return value;
}
