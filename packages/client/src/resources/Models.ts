import type { ModelEntry, ModelList, Pull } from "@quandex/protocol";
import type { QuandexClient } from "../client.js";
import type { RequestOptions } from "../core/RequestOptions.js";
import { retryDefaults } from "../core/RetryPolicy.js";
import { Stream } from "../core/Stream.js";
import { APITimeoutError, QuandexError } from "../core/errors.js";

export interface PullOptions extends RequestOptions {
    /** The model id to use instead of the file stem. */
    id?: string;
    /** Called with each progress update (bytes, speed) until the pull is ready. */
    onProgress?: (pull: Pull) => void;
}

export interface WaitUntilReadyOptions {
    /** Milliseconds to wait for `ready` in all, loading included. Defaults to `300000` (5 minutes). */
    timeout?: number;
    /** Milliseconds between two status checks. Defaults to `500`. */
    pollInterval?: number;
    /** Aborts the wait; it then throws APIUserAbortError. */
    signal?: AbortSignal;
}

/** /v1/models and its load/unload actions. */
export class Models {
    readonly #client: QuandexClient;
    readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

    constructor(client: QuandexClient, sleep: (ms: number, signal?: AbortSignal) => Promise<void>) {
        this.#client = client;
        this.#sleep = sleep;
    }

    list(options?: RequestOptions): Promise<ModelList> {
        return this.#client.request<ModelList>("GET", "/models", {}, options);
    }

    /** One model, by id or alias; the answer's `id` is the canonical id. */
    retrieve(model: string, options?: RequestOptions): Promise<ModelEntry> {
        return this.#client.request<ModelEntry>("GET", `/models/${encodeURIComponent(model)}`, {}, options);
    }

    /** Starts loading; answers at once (202) with status `loading`, or `ready` when already loaded. */
    load(model: string, options?: RequestOptions): Promise<ModelEntry> {
        return this.#client.request<ModelEntry>("POST", `/models/${encodeURIComponent(model)}/load`, {}, options);
    }

    /** Needs the `admin` scope. */
    unload(model: string, options?: RequestOptions): Promise<ModelEntry> {
        return this.#client.request<ModelEntry>("POST", `/models/${encodeURIComponent(model)}/unload`, {}, options);
    }

    /** Needs the `admin` scope; a model with requests running gets ConflictError (409 `model_busy`). */
    delete(model: string, options?: RequestOptions): Promise<ModelEntry> {
        return this.#client.request<ModelEntry>("DELETE", `/models/${encodeURIComponent(model)}`, {}, options);
    }

    /**
     * Pulls a model (needs the `admin` scope) and resolves with the finished pull once the model is
     * in the server's models dir. A bad or unknown source throws at once (BadRequestError,
     * NotFoundError); a failed download throws the pull's error.
     */
    async pull(source: string, options: PullOptions = {}): Promise<Pull> {
        let last: Pull | undefined;
        for await (const progress of this.pullStream(source, options)) {
            last = progress;
            options.onProgress?.(progress);
        }
        if (!last || last.status !== "ready") throw new QuandexError(`The pull of ${source} ended without becoming ready.`);
        return last;
    }

    /** The progress of a pull as a Stream of Pull objects, ending with the `ready` one. Leaving the loop leaves the pull running. */
    pullStream(source: string, options: Omit<PullOptions, "onProgress"> = {}): Stream<Pull> {
        const { id, ...request } = options;
        // Pulls of large files go minutes between progress events only when the network stalls; the server pings meanwhile.
        const idleTimeoutMs = Math.min(request.timeout ?? this.#client.timeout, retryDefaults.streamIdleTimeoutMs);
        return Stream.fromSSE(
            (signal) => this.#client.openStream("POST", "/models/pull", { source, ...(id !== undefined && { id }), stream: true }, { ...request, signal }),
            (data) => JSON.parse(data) as Pull,
            { signal: request.signal, idleTimeoutMs }
        );
    }

    /** A pull by id (needs the `admin` scope). */
    getPull(id: string, options?: RequestOptions): Promise<Pull> {
        return this.#client.request<Pull>("GET", `/models/pulls/${encodeURIComponent(id)}`, {}, options);
    }

    /**
     * Loads the model when it is `unloaded` or in `error`, then polls until it is `ready`.
     * @throws QuandexError when loading fails (the message carries the server's reason).
     * @throws APITimeoutError when it is not ready in time.
     */
    async waitUntilReady(model: string, options: WaitUntilReadyOptions = {}): Promise<ModelEntry> {
        const timeout = options.timeout ?? 300_000;
        const pollInterval = options.pollInterval ?? 500;
        const deadline = Date.now() + timeout;
        const { signal } = options;
        // Each request gets no more than the time left, so the whole wait honours `timeout`.
        const call = (): RequestOptions => ({ signal, timeout: Math.max(1, Math.min(this.#client.timeout, deadline - Date.now())) });

        let entry = await this.retrieve(model, call());
        let loadSent = false;
        for (;;) {
            if (entry.status === "ready") return entry;
            // An error seen before our load request is an old failure worth retrying; after it, it is the answer.
            if (entry.status === "error" && loadSent) {
                throw new QuandexError(`The model '${entry.id}' failed to load: ${entry.error ?? "no reason given"}`);
            }
            if (entry.status === "unloaded" || entry.status === "error") {
                entry = await this.load(model, call());
                loadSent = true;
                continue;
            }
            const remaining = deadline - Date.now();
            if (remaining <= 0) {
                throw new APITimeoutError(`The model '${entry.id}' was not ready after ${timeout} ms (status: ${entry.status}).`);
            }
            await this.#sleep(Math.min(pollInterval, remaining), signal);
            entry = await this.retrieve(model, call());
        }
    }
}
