import type { ModelEntry, ModelList } from "@quandex/protocol";
import type { QuandexClient } from "../client.js";
import type { RequestOptions } from "../core/RequestOptions.js";
import { APITimeoutError, QuandexError } from "../core/errors.js";

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
