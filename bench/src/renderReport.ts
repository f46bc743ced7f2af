import { fmt, formatMb, levelsTable, markdownTable } from "./format.js";
import type { ModelRun, RunResult } from "./RunResult.js";

/** BENCHMARKS.md, written only by the tool from a run's results. */
export function renderReport(result: RunResult): string {
    const { machine } = result;
    const out: string[] = [];
    out.push("# Quandex benchmarks");
    out.push("");
    out.push(
        `Written by the benchmark tool (\`bench/\`) from the run of ${result.startedAt}; do not edit by hand, run it again. ` +
            "Shared machines are noisy: read ranges and ratios, not single figures."
    );
    out.push("");
    out.push(`Command: \`${result.command}\``);
    out.push("");
    out.push("## Machine");
    out.push("");
    out.push(
        markdownTable(
            ["CPU", "cores", "memory", "OS", "Node", "node-llama-cpp", "build", "llama.cpp", "load average at start / end (1, 5, 15 min)"],
            [
                [
                    machine.cpuModel,
                    String(machine.cores),
                    `${(machine.memoryBytes / 1024 ** 3).toFixed(1)} GiB`,
                    machine.os,
                    machine.node,
                    machine.nodeLlamaCpp ?? "n/a",
                    machine.buildType ?? "n/a",
                    machine.llamaCppRelease ?? "n/a",
                    `${machine.loadAverageAtStart.map((x) => x.toFixed(2)).join(", ")} / ${machine.loadAverageAtEnd.map((x) => x.toFixed(2)).join(", ")}`
                ]
            ]
        )
    );
    out.push("");
    out.push("## Targets (issue #7)");
    out.push("");
    out.push(
        markdownTable(
            ["target", "model", "measured", "result"],
            result.targets.map((row) => [row.target, row.model ?? "-", row.measured, row.pass == null ? "n/a" : row.pass ? "pass" : "FAIL"])
        )
    );
    if (result.problems.length > 0) {
        out.push("");
        out.push("**Correctness problems in this run:**");
        out.push("");
        for (const problem of result.problems) out.push(`- ${problem}`);
    }
    for (const model of result.models) out.push("", ...modelSection(model));
    if (result.controlPlane != null) {
        const cp = result.controlPlane;
        out.push("", "## Control plane");
        out.push("");
        out.push(
            `autocannon, ${cp.connections} connections, ${cp.durationS} s per target after a warm-up, one target at a time. ` +
                "The hello-world is a bare Fastify app in its own process, like the server."
        );
        out.push("");
        out.push(
            markdownTable(
                ["target", "req/s", "latency p50 / p99 (ms)", "requests", "non-2xx", "errors"],
                [cp.models, cp.helloWorld].map((row) => [
                    row.url.replace(/^http:\/\/127\.0\.0\.1:\d+/, ""),
                    fmt(row.requestsPerSec, 0),
                    `${fmt(row.latencyP50Ms, 1)} / ${fmt(row.latencyP99Ms, 1)}`,
                    String(row.totalRequests),
                    String(row.non2xx),
                    String(row.errors)
                ])
            )
        );
        out.push("");
        out.push(`Ratio /v1/models ÷ hello-world: ${(cp.ratio * 100).toFixed(1)}%.`);
    }
    out.push("", "## Method", "");
    out.push(
        [
            "- **Server side:** `quandex serve` started by the tool as a child process with a generated config (one model per server, `preload: true`), " +
                "driven over streaming HTTP (`POST /v1/generate`, `stream: true`, `ignore_eos: true`, temperature 0, fixed seed, fixed prompt set, fixed `max_tokens`) " +
                "through `node:http` with a keep-alive agent, one connection per in-flight request " +
                "(it costs the client less per event than `fetch`, whose body arrives through a WHATWG stream).",
            "- **Baseline:** the stock node-llama-cpp path in its own process: `LlamaCompletion.generateCompletion` on one context with the server's `sequences` " +
                "(= `parallel`), `contextSize` and threads, a fresh sequence per request, greedy, `repeatPenalty` off, EOS kept from being sampled by a token bias.",
            "- **Levels:** at concurrency N, N requests are in flight at once (vLLM's `--max-concurrency`); with `--request-rate R` arrivals are Poisson at R req/s. " +
                "Server and baseline levels alternate (server at N, baseline at N, then the next N), never overlapping, so slow drift of a shared machine hits both alike.",
            "- **Metrics (vLLM's definitions, measured at the client):** TTFT = send → first chunk with non-empty text; TPOT = (e2e − TTFT) / (output tokens − 1), " +
                "output tokens from the final chunk's `usage.completion_tokens`; ITL = gaps between consecutive text chunks; e2e = send → `[DONE]`. " +
                "Throughput = tokens (or requests) ÷ wall time from the first send to the last completion. Percentiles interpolate linearly (numpy's default); " +
                "with few requests p99 is close to the maximum.",
            "- **Idle RSS:** VmRSS of the server process from `/proc/<pid>/status`, with the model loaded, before the first request."
        ].join("\n")
    );
    out.push("");
    return out.join("\n");
}

function modelSection(model: ModelRun): string[] {
    const out: string[] = [];
    out.push(`## ${model.id} (${model.description})`);
    out.push("");
    out.push(
        `File ${formatMb(model.fileBytes)}. Settings: threads ${model.threads}, context_size ${model.contextSize} per sequence, ` +
            `parallel ${model.parallel}, max_tokens ${model.plan.maxTokens}, requests per level max(${model.plan.minRequests}, ${model.plan.requestsPerSlot} × concurrency), ` +
            `request rate ${model.plan.requestRate ?? "inf"}.`
    );
    if (model.server != null) {
        out.push("");
        out.push(
            `Server idle RSS with the model loaded: ${formatMb(model.server.idleRssBytes)} before the run, ${formatMb(model.server.idleRssAfterBytes)} after it. ` +
                `API key: ${model.server.unlimitedKey ? "created with --unlimited" : "ordinary key; the config lifted the default limits"}.`
        );
        out.push("", "### Server (HTTP, streaming)", "", levelsTable(model.server.levels));
    }
    if (model.baseline != null) {
        const s = model.baseline.settings;
        out.push("", "### In-process baseline (node-llama-cpp LlamaCompletion)", "");
        out.push(
            `node-llama-cpp ${s.nodeLlamaCppVersion}, ${s.buildType}, llama.cpp ${s.llamaCppRelease}, threads ${s.threads}, ` +
                `contextSize ${s.contextSize}, sequences ${s.sequences}.`
        );
        out.push("", levelsTable(model.baseline.levels));
    }
    if (model.server != null && model.baseline != null) {
        const rows = model.server.levels.flatMap((level) => {
            const base = model.baseline!.levels.find((b) => b.concurrency === level.concurrency);
            if (base == null) return [];
            return [
                [
                    String(level.concurrency),
                    fmt(level.outputThroughput),
                    fmt(base.outputThroughput),
                    `${fmt((level.outputThroughput / base.outputThroughput) * 100)}%`,
                    fmt(level.ttftMs.p50, 2),
                    fmt(base.ttftMs.p50, 2),
                    fmt(level.ttftMs.p50 - base.ttftMs.p50, 2),
                    fmt(level.tpotMs.p50, 3),
                    fmt(base.tpotMs.p50, 3)
                ]
            ];
        });
        out.push("", "### Server ÷ baseline", "");
        out.push(
            markdownTable(
                [
                    "concurrency",
                    "server tok/s",
                    "baseline tok/s",
                    "server/baseline",
                    "server TTFT p50 (ms)",
                    "baseline TTFT p50 (ms)",
                    "TTFT overhead (ms)",
                    "server TPOT p50 (ms)",
                    "baseline TPOT p50 (ms)"
                ],
                rows
            )
        );
    }
    return out;
}
