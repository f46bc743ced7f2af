import type { BaselineSettings } from "./baseline.js";
import type { LevelMetrics } from "./metrics.js";
import type { MultiTurnLevel } from "./multiTurn/runConversations.js";

/** Bytes as decimal megabytes (10^6 bytes, as the "200 MB" reads). */
export const MB = 1_000_000;

export function formatMb(bytes: number | null | undefined): string {
    return bytes == null ? "n/a" : `${(bytes / MB).toFixed(1)} MB`;
}

/** A number for a table: "n/a" when missing, else rounded to `digits`. */
export function fmt(value: number | null | undefined, digits = 1): string {
    if (value == null || !Number.isFinite(value)) return "n/a";
    return value.toFixed(digits);
}

export function markdownTable(header: string[], rows: string[][]): string {
    const line = (cells: string[]): string => `| ${cells.join(" | ")} |`;
    return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** One row per load level with vLLM's serving metrics. */
export function levelsTable(levels: readonly LevelMetrics[]): string {
    return markdownTable(
        [
            "concurrency",
            "rate (req/s)",
            "requests ok/failed",
            "output tok/s",
            "req/s",
            "TTFT mean/p50/p99 (ms)",
            "TPOT mean/p50/p99 (ms)",
            "ITL mean/p50/p99 (ms)",
            "e2e mean/p50/p99 (ms)",
            "CPU ms/token: generator / client"
        ],
        levels.map((level) => [
            String(level.concurrency),
            level.requestRate == null ? "inf" : fmt(level.requestRate, 2),
            `${level.completed}/${level.failed}`,
            fmt(level.outputThroughput),
            fmt(level.requestThroughput, 2),
            triple(level.ttftMs),
            triple(level.tpotMs),
            triple(level.itlMs),
            triple(level.e2eMs, 0),
            cpuPerToken(level)
        ])
    );
}

function triple(d: { mean: number; p50: number; p99: number }, digits = 2): string {
    return `${fmt(d.mean, digits)} / ${fmt(d.p50, digits)} / ${fmt(d.p99, digits)}`;
}

/** CPU ms per output token of the generating process(es) and of the client, "n/a" where not measured. */
export function cpuPerToken(level: LevelMetrics): string {
    const per = (ms: number | null | undefined): string => (ms == null || level.totalOutputTokens === 0 ? "n/a" : fmt(ms / level.totalOutputTokens, 3));
    return `${per(level.cpuMs?.generator)} / ${per(level.cpuMs?.client)}`;
}

/** One log line for a finished level. */
export function describeLevel(side: string, level: LevelMetrics): string {
    return (
        `${side} c=${level.concurrency}: ${level.outputThroughput.toFixed(1)} tok/s, TTFT p50 ${level.ttftMs.p50.toFixed(2)} ms, ` +
        `TPOT p50 ${level.tpotMs.p50.toFixed(2)} ms, CPU ms/token ${cpuPerToken(level)}, ${level.completed} ok, ${level.failed} failed` +
        (level.errors.length > 0 ? ` (${level.errors[0]})` : "")
    );
}

/** One line describing the baseline's settings, for logs. */
export function describeBaselineSettings(s: BaselineSettings): string {
    return (
        `baseline: node-llama-cpp ${s.nodeLlamaCppVersion} (${s.buildType}, llama.cpp ${s.llamaCppRelease}), threads ${s.threads}, ` +
        `contextSize ${s.contextSize}, sequences ${s.sequences}, maxTokens ${s.maxTokens}, temperature 0, repeatPenalty off, ignore EOS; ` +
        `loaded in ${s.loadMs.toFixed(0)} ms`
    );
}

/** How the default's thread count reads in logs and tables: `1`, or `1-2 per batch`. */
export function defaultThreadsLabel(point: { resolvedThreads: number | null; perBatch?: boolean }): string {
    if (point.resolvedThreads == null) return "?";
    return point.perBatch ? `1-${point.resolvedThreads} per batch` : String(point.resolvedThreads);
}

/** A thread sweep's engine, with node-llama-cpp's build when known: `node-llama-cpp (local build)`. */
export function sweepLabel(sweep: { engine: string; build?: "prebuilt" | "local" | null }): string {
    if (sweep.engine !== "node-llama-cpp" || sweep.build == null) return sweep.engine;
    return `node-llama-cpp (${sweep.build === "local" ? "local build" : "prebuilt"})`;
}

/** One line for a multi-turn run: TTFT p50 of turn 1 and of the last turn, throughput, prompt tokens reused. */
export function describeMultiTurn(label: string, level: MultiTurnLevel): string {
    const first = level.ttftByTurn[0]!;
    const last = level.ttftByTurn[level.ttftByTurn.length - 1]!;
    const cached = level.promptTokensCached === null ? "n/a" : `${level.promptTokensCached}/${level.promptTokensSent}`;
    return (
        `${label} C=${level.conversations}: TTFT p50 turn 1 ${first.p50.toFixed(0)} ms, turn ${level.turns} ${last.p50.toFixed(0)} ms (p99 ${last.p99.toFixed(0)}), ` +
        `${level.outputThroughput.toFixed(1)} tok/s, prompt tokens reused ${cached}, ${level.durationS.toFixed(1)} s` +
        (level.failed > 0 ? `, ${level.failed} failed: ${level.errors.join("; ")}` : "")
    );
}
