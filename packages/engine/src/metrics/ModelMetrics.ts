interface Sample {
    at: number;
    latencyMs: number;
    failed: boolean;
    completionTokens: number;
}

export interface ModelMetricsSnapshot {
    requestsPerSecond: number;
    averageLatencyMs: number | null;
    p50LatencyMs: number | null;
    p95LatencyMs: number | null;
    errorRatio: number;
    outputTokensPerSecond: number;
    requestsTotal: number;
    errorsTotal: number;
    completionTokensTotal: number;
    /** Prompt tokens of every finished generation, reused ones included. */
    promptTokensTotal: number;
    /** Prompt tokens whose KV state was reused from an earlier request (a prompt-cache hit), not evaluated again. */
    cachedPromptTokensTotal: number;
}

/**
 * Per-model request figures over a sliding window (60 s by default). Samples are appended in time
 * order, so pruning is a shift from the front; percentiles sort a copy only when stats are read.
 */
export class ModelMetrics {
    private readonly samples: Sample[] = [];
    private requestsTotal = 0;
    private errorsTotal = 0;
    private completionTokensTotal = 0;
    private promptTokensTotal = 0;
    private cachedPromptTokensTotal = 0;

    constructor(
        private readonly now: () => number = () => Date.now(),
        private readonly windowMs = 60_000
    ) {}

    /** @param tokens the generation's counts, when it produced any. */
    record(latencyMs: number, failed: boolean, tokens?: { promptTokens: number; completionTokens: number; cachedTokens: number }): void {
        const completionTokens = tokens?.completionTokens ?? 0;
        this.samples.push({ at: this.now(), latencyMs, failed, completionTokens });
        this.requestsTotal++;
        if (failed) this.errorsTotal++;
        this.completionTokensTotal += completionTokens;
        this.promptTokensTotal += tokens?.promptTokens ?? 0;
        this.cachedPromptTokensTotal += tokens?.cachedTokens ?? 0;
        this.prune();
    }

    snapshot(): ModelMetricsSnapshot {
        this.prune();
        const count = this.samples.length;
        const windowSeconds = this.windowMs / 1000;
        const latencies = this.samples.map((s) => s.latencyMs).sort((a, b) => a - b);
        const failed = this.samples.filter((s) => s.failed).length;
        const tokens = this.samples.reduce((sum, s) => sum + s.completionTokens, 0);
        return {
            requestsPerSecond: count / windowSeconds,
            averageLatencyMs: count === 0 ? null : latencies.reduce((a, b) => a + b, 0) / count,
            p50LatencyMs: percentile(latencies, 0.5),
            p95LatencyMs: percentile(latencies, 0.95),
            errorRatio: count === 0 ? 0 : failed / count,
            outputTokensPerSecond: tokens / windowSeconds,
            requestsTotal: this.requestsTotal,
            errorsTotal: this.errorsTotal,
            completionTokensTotal: this.completionTokensTotal,
            promptTokensTotal: this.promptTokensTotal,
            cachedPromptTokensTotal: this.cachedPromptTokensTotal
        };
    }

    private prune(): void {
        const cutoff = this.now() - this.windowMs;
        let drop = 0;
        while (drop < this.samples.length && this.samples[drop]!.at < cutoff) drop++;
        if (drop > 0) this.samples.splice(0, drop);
    }
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number | null {
    if (sorted.length === 0) return null;
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
    return sorted[rank] ?? null;
}
