import type { ModelEntry, ModelStats, StatsResponse } from "@quandex/protocol";
import type { QuandexClient } from "../client.js";
import type { RequestOptions } from "../core/RequestOptions.js";

/**
 * One model's entry from /v1/models joined with its /v1/stats figures: what the reference's
 * `get_model_stats("llama-3.2")["memory_usage"]` reads. The two objects share no field names.
 */
export type ModelStatsResult = ModelEntry & ModelStats;

/** /v1/stats. */
export class Stats {
    readonly #client: QuandexClient;

    constructor(client: QuandexClient) {
        this.#client = client;
    }

    retrieve(options?: RequestOptions): Promise<StatsResponse> {
        return this.#client.request<StatsResponse>("GET", "/stats", {}, options);
    }

    /**
     * @param model An id or an alias. /v1/stats is keyed by canonical id, so the model entry
     *   (which resolves aliases) is fetched first, alongside the stats.
     * @throws NotFoundError when the model does not exist.
     */
    async forModel(model: string, options?: RequestOptions): Promise<ModelStatsResult> {
        const [entry, stats] = await Promise.all([this.#client.getModel(model, options), this.retrieve(options)]);
        const key = [entry.id, ...entry.aliases, model].find((name) => Object.hasOwn(stats.models, name));
        return { ...entry, ...(key === undefined ? idleModelStats : stats.models[key]!) };
    }
}

/** What a model that has served nothing yet reports. */
const idleModelStats: ModelStats = {
    requests_per_second: 0,
    average_latency: "0ms",
    average_latency_ms: null,
    error_rate: "0%",
    error_rate_ratio: 0,
    p50_latency_ms: null,
    p95_latency_ms: null,
    output_tokens_per_second: 0,
    active_sequences: 0,
    queue_depth: 0,
    requests_total: 0,
    errors_total: 0,
    completion_tokens_total: 0,
    prompt_tokens_total: 0,
    cached_prompt_tokens_total: 0
};
