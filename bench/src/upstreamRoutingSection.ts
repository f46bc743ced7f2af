import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { benchDir } from "./paths.js";

interface Row {
    concurrency: number;
    direct: { outputThroughput: number; ttftMs: { p50: number }; failed: number; completed: number };
    quandex: { outputThroughput: number; ttftMs: { p50: number }; failed: number; completed: number };
    throughputRatio: number;
    addedTtftP50Ms: number;
    pass: { throughput: boolean; ttft: boolean };
}

/**
 * BENCHMARKS.md's "Upstream routing" section, from the newest `bench/results/upstream-routing-*.json`
 * (`npm run bench:upstream-routing` writes it); empty when there is none. Both that script and
 * `npm run bench`'s report render it, so a full bench run keeps the last routing measurement.
 */
export function upstreamRoutingSection(resultsDir = join(benchDir, "results")): string[] {
    let files: string[];
    try {
        files = readdirSync(resultsDir)
            .filter((f) => /^upstream-routing-.*\.json$/.test(f))
            .sort();
    } catch {
        return [];
    }
    const newest = files.at(-1);
    if (!newest) return [];
    const run = JSON.parse(readFileSync(join(resultsDir, newest), "utf8")) as { command: string; startedAt: string; machine?: string; rows: Row[] };
    const lines = [
        "",
        "## Upstream routing (issue #18: Quandex in front of an upstream pool, against the upstream called directly)",
        "",
        `Run of ${run.startedAt}${run.machine ? ` on ${run.machine}` : ""}. Command: \`${run.command}\`. Streaming \`/v1/completions\` on stories260K, temperature 0, the same body on both sides, a fresh connection per request, the sides alternating in rounds; the pool is one llama-server (1 thread, 8 slots).`,
        "",
        "| streams | direct tok/s | through Quandex tok/s | ≥ 97% of direct | TTFT p50 direct | TTFT p50 through Quandex | added ≤ 2 ms | failed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |"
    ];
    for (const r of run.rows) {
        lines.push(
            `| ${r.concurrency} | ${r.direct.outputThroughput.toFixed(1)} | ${r.quandex.outputThroughput.toFixed(1)} | ${(r.throughputRatio * 100).toFixed(1)}% ${r.pass.throughput ? "pass" : "FAIL"} | ${r.direct.ttftMs.p50.toFixed(2)} ms | ${r.quandex.ttftMs.p50.toFixed(2)} ms | ${r.addedTtftP50Ms.toFixed(2)} ms ${r.pass.ttft ? "pass" : "FAIL"} | ${r.direct.failed + r.quandex.failed} |`
        );
    }
    return lines;
}
