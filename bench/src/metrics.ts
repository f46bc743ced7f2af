/**
 * vLLM's serving metrics (benchmarks/serve.py), computed from per-request timestamps so the same code
 * scores the HTTP server and the in-process baseline. All times are milliseconds from one monotonic
 * clock (`performance.now()`).
 */

/** What one request saw, from the client's side. */
export type RequestRecord = {
    /** When the request was sent (HTTP) or the completion was called (in-process). */
    start: number;
    /** Arrival time of each streamed chunk that carried non-empty text, in order. */
    chunkTimes: number[];
    /** When the stream ended (`[DONE]` received, or the completion returned). */
    end: number;
    /** Tokens generated, from the final chunk's `usage.completion_tokens` (HTTP) or the engine. */
    outputTokens: number;
    /** Why the request failed; failed requests are counted but not scored. */
    error?: string;
};

export type Distribution = { count: number; mean: number; p50: number; p99: number; min: number; max: number };

export type LevelMetrics = {
    concurrency: number;
    /** Poisson arrival rate in requests/s; `null` sends every request at once (bounded by concurrency). */
    requestRate: number | null;
    completed: number;
    failed: number;
    /** First failure messages, for the report. */
    errors: string[];
    /**
     * Completed requests whose output token count differed from `expectedOutputTokens` (with ignore_eos
     * every request must generate exactly max_tokens); 0 when no expectation was given.
     */
    wrongLength: number;
    /** Wall time from the first send to the last completion, seconds. */
    durationS: number;
    totalOutputTokens: number;
    /** Completed requests per second of `durationS`. */
    requestThroughput: number;
    /** Output tokens per second of `durationS`: the aggregate decode throughput. */
    outputThroughput: number;
    /** Send to first chunk with text. */
    ttftMs: Distribution;
    /** (e2e - TTFT) / (output tokens - 1), per request with more than one output token. */
    tpotMs: Distribution;
    /** Gaps between consecutive text chunks, pooled over all requests. */
    itlMs: Distribution;
    /** Send to end of stream. */
    e2eMs: Distribution;
    /**
     * CPU time (user + system, all threads) spent during the level by the process that generates
     * (the server, or the in-process baseline) and by the load client, in ms; absent when not measured.
     * On a machine with few cores, the client's share is CPU the generator did not get.
     */
    cpuMs?: { generator: number | null; client: number | null };
};

/** Percentile with linear interpolation between closest ranks (numpy's default, which vLLM uses). */
export function percentile(sortedValues: readonly number[], p: number): number {
    if (sortedValues.length === 0) return NaN;
    const rank = (p / 100) * (sortedValues.length - 1);
    const lower = Math.floor(rank);
    const upper = Math.ceil(rank);
    const low = sortedValues[lower]!;
    return low + (sortedValues[upper]! - low) * (rank - lower);
}

export function distribution(values: readonly number[]): Distribution {
    if (values.length === 0) return { count: 0, mean: NaN, p50: NaN, p99: NaN, min: NaN, max: NaN };
    const sorted = [...values].sort((a, b) => a - b);
    const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
    return { count: sorted.length, mean, p50: percentile(sorted, 50), p99: percentile(sorted, 99), min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** Scores one load level. A request with no text chunk counts as failed: it has no TTFT. */
export function summarizeLevel(
    records: readonly RequestRecord[],
    options: { concurrency: number; requestRate: number | null; expectedOutputTokens?: number }
): LevelMetrics {
    const isFailed = (record: RequestRecord): boolean => record.error != null || record.chunkTimes.length === 0;
    const failedRecords = records.filter(isFailed);
    const completed = records.filter((record) => !isFailed(record));
    const ttft: number[] = [];
    const tpot: number[] = [];
    const itl: number[] = [];
    const e2e: number[] = [];
    let totalOutputTokens = 0;
    for (const record of completed) {
        const firstChunk = record.chunkTimes[0]!;
        const latency = record.end - record.start;
        ttft.push(firstChunk - record.start);
        e2e.push(latency);
        if (record.outputTokens > 1) tpot.push((latency - (firstChunk - record.start)) / (record.outputTokens - 1));
        for (let i = 1; i < record.chunkTimes.length; i++) itl.push(record.chunkTimes[i]! - record.chunkTimes[i - 1]!);
        totalOutputTokens += record.outputTokens;
    }
    const durationMs = records.length === 0 ? 0 : Math.max(...records.map((r) => r.end)) - Math.min(...records.map((r) => r.start));
    const durationS = durationMs / 1000;
    return {
        concurrency: options.concurrency,
        requestRate: options.requestRate,
        completed: completed.length,
        failed: failedRecords.length,
        errors: [...new Set(failedRecords.map((record) => record.error ?? "no text received"))].slice(0, 5),
        wrongLength:
            options.expectedOutputTokens == null ? 0 : completed.filter((record) => record.outputTokens !== options.expectedOutputTokens).length,
        durationS,
        totalOutputTokens,
        requestThroughput: durationS > 0 ? completed.length / durationS : 0,
        outputThroughput: durationS > 0 ? totalOutputTokens / durationS : 0,
        ttftMs: distribution(ttft),
        tpotMs: distribution(tpot),
        itlMs: distribution(itl),
        e2eMs: distribution(e2e)
    };
}
