import type { Api } from "./Api.js";
import { ApiError } from "./ApiError.js";
import type { ModelList, StatsResponse } from "./wire.js";

/** One poll of `/v1/stats` and `/v1/models`, stamped with the browser's clock (seconds, for uPlot). */
export interface StatsSample {
    at: number;
    stats: StatsResponse;
}

export const historySeconds = 15 * 60;
export const pollMs = 2_000;

/**
 * Polls `/v1/stats` (and `/v1/models`, for state and memory) while the console is open and keeps the
 * last 15 minutes, so the overview's charts have history however the user moves between pages. The
 * figures are the server's; nothing here is computed beyond picking them out.
 */
export class StatsHistory {
    samples: StatsSample[] = [];
    models: ModelList | null = null;
    error: ApiError | null = null;
    readonly #listeners = new Set<() => void>();
    #timer: ReturnType<typeof setTimeout> | undefined;
    #stopped = false;
    #inFlight = false;

    constructor(private readonly api: Api) {}

    start(): void {
        void this.#poll();
    }

    stop(): void {
        this.#stopped = true;
        clearTimeout(this.#timer);
    }

    subscribe(listener: () => void): () => void {
        this.#listeners.add(listener);
        return () => this.#listeners.delete(listener);
    }

    /** Polls now (after an action that changes state), instead of waiting for the next tick. */
    refresh(): void {
        if (this.#inFlight) return;
        clearTimeout(this.#timer);
        void this.#poll();
    }

    async #poll(): Promise<void> {
        this.#inFlight = true;
        try {
            const [stats, models] = await Promise.all([this.api.json<StatsResponse>("GET", "/v1/stats"), this.api.json<ModelList>("GET", "/v1/models")]);
            const at = Date.now() / 1000;
            this.samples.push({ at, stats });
            while (this.samples.length > 0 && this.samples[0]!.at < at - historySeconds) this.samples.shift();
            this.models = models;
            this.error = null;
        } catch (error) {
            this.error = ApiError.from(error);
        } finally {
            this.#inFlight = false;
        }
        for (const listener of this.#listeners) listener();
        if (!this.#stopped) this.#timer = setTimeout(() => void this.#poll(), pollMs);
    }
}
