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

interface Run {
    command: string;
    startedAt: string;
    machine?: string;
    /** Absent in runs from before `--model`. */
    model?: string;
    upstream?: string;
    rows: Row[];
}

/**
 * BENCHMARKS.md's "Upstream routing" section: the newest `bench/results/upstream-routing-*.json`
 * of each model and upstream shape (`npm run bench:upstream-routing [-- --model ...]` writes them), one table each;
 * empty when there is none. Both that script and `npm run bench`'s report render it, so a full
 * bench run keeps the last routing measurements.
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
    const newestByModel = new Map<string, Run>();
    for (const file of files) {
        const run = JSON.parse(readFileSync(join(resultsDir, file), "utf8")) as Run;
        // Runs from before `--model` existed were all on the test model, its upstream on one thread.
        newestByModel.set(`${run.model ?? "stories260K"}, upstream ${run.upstream ?? "one llama-server (1 thread, 8 slots)"}`, run);
    }
    if (newestByModel.size === 0) return [];
    const lines = [
        "",
        "## Upstream routing (issue #18: Quandex in front of an upstream pool, against the upstream called directly)",
        "",
        "On one 2-core machine the load client, Quandex and the upstream share the CPU, so every CPU-millisecond Quandex spends per token is taken from an upstream that uses both cores (the 85M model on 2 threads); with the upstream on one thread, the throughput ratio shows the routing alone. Added TTFT is Quandex's own work per request (HTTP parse, key and limits, the usage ledger's SQLite write, a second loopback connection, since llama-server closes each streamed connection)."
    ];
    for (const [heading, run] of newestByModel) {
        const model = run.model ?? "stories260K";
        lines.push(
            "",
            `### ${heading}`,
            "",
            `Run of ${run.startedAt}${run.machine ? ` on ${run.machine}` : ""}. Command: \`${run.command}\`. Streaming \`/v1/completions\` on ${model}, temperature 0, the same body on both sides, a fresh connection per request, the sides alternating in rounds; the pool is ${run.upstream ?? "one llama-server (1 thread, 8 slots)"}.`,
            "",
            "| streams | direct tok/s | through Quandex tok/s | ≥ 97% of direct | TTFT p50 direct | TTFT p50 through Quandex | added ≤ 2 ms | failed |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"
        );
        for (const r of run.rows) {
            lines.push(
                `| ${r.concurrency} | ${r.direct.outputThroughput.toFixed(1)} | ${r.quandex.outputThroughput.toFixed(1)} | ${(r.throughputRatio * 100).toFixed(1)}% ${r.pass.throughput ? "pass" : "FAIL"} | ${r.direct.ttftMs.p50.toFixed(2)} ms | ${r.quandex.ttftMs.p50.toFixed(2)} ms | ${r.addedTtftP50Ms.toFixed(2)} ms ${r.pass.ttft ? "pass" : "FAIL"} | ${r.direct.failed + r.quandex.failed} |`
            );
        }
    }
    return lines;
}
