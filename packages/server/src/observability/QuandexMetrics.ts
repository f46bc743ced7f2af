import type { InferenceService } from "@quandex/engine";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { RequestTrace } from "./RequestTrace.js";

/**
 * Buckets for LLM serving, vLLM's (vllm/engine/metrics.py) with finer steps below them: a small
 * model on a CPU answers its first token in a millisecond and a token every fraction of one, which
 * vLLM's GPU-sized buckets would put all in the first bucket.
 */
export const buckets = {
    timeToFirstToken: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80],
    timePerOutputToken: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80],
    e2eLatency: [0.01, 0.025, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680],
    queueTime: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160]
} as const;

const modelStates = ["ready", "loading", "unloaded", "error"] as const;

/** Why a request got a 429, by catalogue code (a token bucket cannot tell its rate from its burst: it is empty). */
const rateLimitReasons: Record<string, string> = {
    rate_limit_exceeded: "rate",
    daily_quota_exceeded: "daily_quota"
};

/**
 * The Prometheus view of the server, one registry per app (never prom-client's global one, so two
 * apps in one process keep their own figures). Two kinds of source:
 *
 * - **the engine's figures, read at scrape time** (`render`): token and request totals from each
 *   model's `ModelMetrics` (the very numbers `/v1/stats` reports), model state, memory, sequences
 *   running and waiting, loads and evictions. Nothing is counted twice, so the two views agree.
 * - **per-request observations** (`observe`), fed once from where every request ends
 *   (`RequestObserver`): requests by route and status, TTFT, time per output token, end-to-end
 *   latency, queue time, and 429s by key and reason.
 */
export class QuandexMetrics {
    readonly registry = new Registry();
    private readonly requests: Counter<"model" | "route" | "status">;
    private readonly rateLimited: Counter<"key_id" | "reason">;
    private readonly ttft: Histogram<"model">;
    private readonly tpot: Histogram<"model">;
    private readonly e2e: Histogram<"model">;
    private readonly queue: Histogram<"model">;
    private readonly promptTokens: Counter<"model">;
    private readonly generationTokens: Counter<"model">;
    private readonly cacheHitTokens: Counter<"model">;
    private readonly modelRequests: Counter<"model">;
    private readonly modelErrors: Counter<"model">;
    private readonly loads: Counter<"model" | "result">;
    private readonly evictions: Counter;
    private readonly running: Gauge<"model">;
    private readonly waiting: Gauge<"model">;
    private readonly memory: Gauge<"model" | "kind">;
    private readonly state: Gauge<"model" | "state">;
    private readonly budget: Gauge;
    private readonly committed: Gauge;

    constructor(private readonly service: InferenceService) {
        const registers = [this.registry];
        collectDefaultMetrics({ register: this.registry });
        // prom-client exports these three sums as gauges named `_total`, which `promtool check metrics`
        // rejects (a `_total` suffix means a counter); the per-type gauges beside them
        // (`nodejs_active_handles{type}` …) carry the same figures.
        for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) this.registry.removeSingleMetric(name);
        const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> => new Counter({ name, help, labelNames, registers });
        const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> => new Gauge({ name, help, labelNames, registers });
        const histogram = (name: string, help: string, bucketList: readonly number[]): Histogram<"model"> =>
            new Histogram({ name, help, labelNames: ["model"], buckets: [...bucketList], registers });

        this.requests = counter("quandex_requests_total", "HTTP requests answered, by model (empty for non-inference routes), route template and status.", [
            "model",
            "route",
            "status"
        ]);
        this.rateLimited = counter("quandex_rate_limited_total", "Requests refused with 429 by a key's limits, by key id and reason (rate: its token bucket; daily_quota).", [
            "key_id",
            "reason"
        ]);
        this.ttft = histogram("quandex_time_to_first_token_seconds", "From the request's arrival to its first generated text.", buckets.timeToFirstToken);
        this.tpot = histogram("quandex_time_per_output_token_seconds", "From the first to the last generated token, per token after the first.", buckets.timePerOutputToken);
        this.e2e = histogram("quandex_e2e_request_latency_seconds", "From an inference request's arrival to the end of its answer.", buckets.e2eLatency);
        this.queue = histogram("quandex_queue_time_seconds", "Time an inference request waited for a sequence.", buckets.queueTime);
        this.promptTokens = counter("quandex_prompt_tokens_total", "Prompt tokens of finished generations, reused ones included (/v1/stats prompt_tokens_total).", ["model"]);
        this.generationTokens = counter("quandex_generation_tokens_total", "Generated tokens (/v1/stats completion_tokens_total).", ["model"]);
        this.cacheHitTokens = counter(
            "quandex_prompt_cache_hit_tokens_total",
            "Prompt tokens reused from the prompt cache, not evaluated again (/v1/stats cached_prompt_tokens_total).",
            ["model"]
        );
        this.modelRequests = counter("quandex_model_requests_total", "Requests that took or were refused a sequence of the model, per choice (/v1/stats requests_total).", [
            "model"
        ]);
        this.modelErrors = counter("quandex_model_request_errors_total", "Of those, the ones that failed (/v1/stats errors_total).", ["model"]);
        this.loads = counter("quandex_model_loads_total", "Model loads that ended, by result: success, error, refused (no memory).", ["model", "result"]);
        this.evictions = counter("quandex_model_evictions_total", "Models unloaded to make room for another (/v1/stats memory.evictions_total).", []);
        this.running = gauge("quandex_requests_running", "Sequences generating now (/v1/stats active_sequences).", ["model"]);
        this.waiting = gauge("quandex_requests_waiting", "Requests waiting for a sequence (/v1/stats queue_depth).", ["model"]);
        this.memory = gauge("quandex_model_memory_bytes", "Memory a loaded model holds, by kind: ram or vram.", ["model", "kind"]);
        this.state = gauge("quandex_model_state", "1 for the model's current state, 0 for the others.", ["model", "state"]);
        this.budget = gauge("quandex_memory_budget_bytes", "What all loaded models may hold together; 0 when no budget is set.", []);
        this.committed = gauge("quandex_memory_committed_bytes", "What loaded and loading models hold (/v1/stats memory.committed_bytes).", []);
    }

    /** Books one finished request. `route` is the route template (bounded), never the raw URL. */
    observe(route: string, status: number, keyId: string | undefined, trace: RequestTrace | null, receivedAt: number, endedAt: number): void {
        const model = trace?.model ?? "";
        this.requests.inc({ model, route, status: String(status) });
        const reason = trace?.errorCode ? rateLimitReasons[trace.errorCode] : undefined;
        if (reason !== undefined) this.rateLimited.inc({ key_id: keyId ?? "", reason });
        const run = trace?.run;
        if (!run) return;
        const labels = { model: run.model };
        this.e2e.observe(labels, (endedAt - receivedAt) / 1000);
        this.queue.observe(labels, Math.max(...run.queuedMs) / 1000);
        if (run.firstTokenAt > 0) {
            this.ttft.observe(labels, (run.firstTokenAt - receivedAt) / 1000);
            const later = run.usage.completion_tokens - run.choices;
            if (run.completedAt > 0 && later > 0) this.tpot.observe(labels, (run.completedAt - run.firstTokenAt) / 1000 / later);
        }
    }

    /** The exposition text, with the engine's figures read now. */
    async render(): Promise<string> {
        this.readEngine();
        return this.registry.metrics();
    }

    get contentType(): string {
        return this.registry.contentType;
    }

    close(): void {
        this.registry.clear();
    }

    /** Sets the scrape-time series from the engine, the same calls `/v1/stats` makes. */
    private readEngine(): void {
        for (const metric of [this.promptTokens, this.generationTokens, this.cacheHitTokens, this.modelRequests, this.modelErrors, this.loads, this.evictions]) metric.reset();
        for (const metric of [this.running, this.waiting, this.memory, this.state]) metric.reset();
        for (const snapshot of this.service.models()) {
            const model = snapshot.definition.id;
            const m = this.service.metricsFor(model).snapshot();
            this.promptTokens.inc({ model }, m.promptTokensTotal);
            this.generationTokens.inc({ model }, m.completionTokensTotal);
            this.cacheHitTokens.inc({ model }, m.cachedPromptTokensTotal);
            this.modelRequests.inc({ model }, m.requestsTotal);
            this.modelErrors.inc({ model }, m.errorsTotal);
            this.running.set({ model }, snapshot.active);
            this.waiting.set({ model }, snapshot.waiting);
            const vram = snapshot.resources?.acceleratorBytes ?? 0;
            this.memory.set({ model, kind: "vram" }, vram);
            this.memory.set({ model, kind: "ram" }, (snapshot.resources?.totalBytes ?? 0) - vram);
            for (const state of modelStates) this.state.set({ model, state }, snapshot.status === state ? 1 : 0);
        }
        for (const [model, counts] of this.service.loadCounts()) {
            for (const [result, count] of Object.entries(counts)) this.loads.inc({ model, result }, count);
        }
        const memory = this.service.status().memory;
        this.evictions.inc(memory.evictionsTotal);
        this.budget.reset();
        if (memory.budgetBytes !== null) this.budget.set(memory.budgetBytes);
        this.committed.set(memory.committedBytes);
    }
}
