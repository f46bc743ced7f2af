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
    /** How many rounds were merged into this figure (absent: one). */
    rounds?: number;
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

/** The middle of `values` (in any order); the mean of the two middle ones for an even count. */
export function median(values: readonly number[]): number {
    return percentile(
        [...values].sort((a, b) => a - b),
        50
    );
}

export function distribution(values: readonly number[]): Distribution {
    if (values.length === 0) return { count: 0, mean: NaN, p50: NaN, p99: NaN, min: NaN, max: NaN };
    const sorted = [...values].sort((a, b) => a - b);
    const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
    return { count: sorted.length, mean, p50: percentile(sorted, 50), p99: percentile(sorted, 99), min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** Scores one load level. A request with no text chunk counts as failed: it has no TTFT. */
export function summarizeLevel(records: readonly RequestRecord[], options: { concurrency: number; requestRate: number | null; expectedOutputTokens?: number }): LevelMetrics {
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
        wrongLength: options.expectedOutputTokens == null ? 0 : completed.filter((record) => record.outputTokens !== options.expectedOutputTokens).length,
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

/**
 * One level's figure from several rounds of it. Counts, tokens, durations and CPU add up, so
 * throughput is all tokens over all measured time; a mean is weighted by its count; p50 and p99 are
 * the median of the rounds' (the requests themselves are not kept), so one round disturbed by a
 * neighbour on a shared machine cannot move them.
 */
export function mergeRounds(rounds: readonly LevelMetrics[]): LevelMetrics {
    if (rounds.length === 1) return rounds[0]!;
    if (rounds.length === 0) throw new Error("mergeRounds: no rounds");
    const merged = (pick: (level: LevelMetrics) => Distribution): Distribution => {
        const parts = rounds.map(pick).filter((d) => d.count > 0);
        const count = parts.reduce((sum, d) => sum + d.count, 0);
        if (count === 0) return distribution([]);
        return {
            count,
            mean: parts.reduce((sum, d) => sum + d.mean * d.count, 0) / count,
            p50: median(parts.map((d) => d.p50)),
            p99: median(parts.map((d) => d.p99)),
            min: Math.min(...parts.map((d) => d.min)),
            max: Math.max(...parts.map((d) => d.max))
        };
    };
    const sum = (pick: (level: LevelMetrics) => number): number => rounds.reduce((total, level) => total + pick(level), 0);
    const cpu = (pick: (c: NonNullable<LevelMetrics["cpuMs"]>) => number | null): number | null => {
        const values = rounds.map((level) => (level.cpuMs ? pick(level.cpuMs) : null));
        return values.some((value) => value == null) ? null : values.reduce((total: number, value) => total + value!, 0);
    };
    const durationS = sum((level) => level.durationS);
    const completed = sum((level) => level.completed);
    const totalOutputTokens = sum((level) => level.totalOutputTokens);
    const first = rounds[0]!;
    return {
        concurrency: first.concurrency,
        requestRate: first.requestRate,
        completed,
        failed: sum((level) => level.failed),
        errors: [...new Set(rounds.flatMap((level) => level.errors))].slice(0, 5),
        wrongLength: sum((level) => level.wrongLength),
        durationS,
        totalOutputTokens,
        requestThroughput: durationS > 0 ? completed / durationS : 0,
        outputThroughput: durationS > 0 ? totalOutputTokens / durationS : 0,
        ttftMs: merged((level) => level.ttftMs),
        tpotMs: merged((level) => level.tpotMs),
        itlMs: merged((level) => level.itlMs),
        e2eMs: merged((level) => level.e2eMs),
        ...(rounds.every((level) => level.cpuMs) && { cpuMs: { generator: cpu((c) => c.generator), client: cpu((c) => c.client) } }),
        rounds: rounds.length
    };
}

/**
 * Runs one level of two sides in turn, `rounds` times (a, b, a, b, ...), so the slow drift of a
 * shared machine hits both alike, and merges each side's rounds. `b` may be absent.
 */
export async function alternateRounds(
    rounds: number,
    a: () => Promise<LevelMetrics>,
    b: (() => Promise<LevelMetrics>) | null,
    onRound?: (side: "a" | "b", level: LevelMetrics, round: number) => void
): Promise<{ a: LevelMetrics; b: LevelMetrics | null }> {
    const as: LevelMetrics[] = [];
    const bs: LevelMetrics[] = [];
    for (let round = 1; round <= Math.max(1, rounds); round++) {
        const levelA = await a();
        onRound?.("a", levelA, round);
        as.push(levelA);
        if (b) {
            const levelB = await b();
            onRound?.("b", levelB, round);
            bs.push(levelB);
        }
    }
    return { a: mergeRounds(as), b: b ? mergeRounds(bs) : null };
}
