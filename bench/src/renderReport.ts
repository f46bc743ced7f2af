import { defaultThreadsLabel, sweepLabel, fmt, formatMb, levelsTable, markdownTable } from "./format.js";
import { upstreamRoutingSection } from "./upstreamRoutingSection.js";
import { multiTurnSection } from "./multiTurnSection.js";
import { generatedTokensRate } from "./llamaServer/batchedBench.js";
import type { LevelMetrics } from "./metrics.js";
import type { ModelRun, RunResult } from "./RunResult.js";
import type { TargetGroup, TargetRow } from "./targets.js";

const targetSections: Array<{ group: TargetGroup; title: string }> = [
    { group: "serving", title: "Targets (issue #7: what the server adds to the in-process engine)" },
    { group: "engines", title: "Targets (issue #8: both engines against llama.cpp's own tools)" },
    { group: "threads", title: "Targets (issue #7: default thread choice)" }
];

function targetTable(rows: readonly TargetRow[]): string {
    return markdownTable(
        ["target", "model", "measured", "result"],
        rows.map((row) => [row.target, row.model ?? "-", row.measured, row.pass == null ? "n/a" : row.pass ? "pass" : "FAIL"])
    );
}

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
    if (result.llamaServer != null) {
        out.push(
            result.llamaServer.binary != null
                ? `llama-server: \`${result.llamaServer.binary}\` (from ${result.llamaServer.source}); llama-batched-bench: ${result.llamaServer.batchedBench == null ? "not found" : `\`${result.llamaServer.batchedBench}\``}.`
                : `llama-server parts skipped: ${result.llamaServer.skipped}.`
        );
        out.push("");
    }
    let firstSection = true;
    for (const section of targetSections) {
        const rows = result.targets.filter((row) => (row.group ?? "serving") === section.group);
        if (rows.length === 0) continue;
        if (!firstSection) out.push("");
        firstSection = false;
        out.push(`## ${section.title}`, "", targetTable(rows));
    }
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
            `autocannon, ${cp.connections} connections, ${cp.durationS} s per target after a warm-up, one target at a time` +
                (cp.roundRatios != null && cp.roundRatios.length > 1
                    ? `, ${cp.roundRatios.length} rounds in turn; each figure is the median round and the ratio the median of the rounds' ratios ` +
                      `(${cp.roundRatios.map((r) => `${fmt(r * 100)}%`).join(", ")}). `
                    : ". ") +
                "The hello-world is a bare Fastify app in its own process, like the server. `/v1/models` is measured first with a key " +
                "whose limits apply (rps, burst and daily 1,000,000: a rate token and a daily-count read per request, six `X-RateLimit-*` headers; " +
                "the target uses this row), then with the bench's `--unlimited` key."
        );
        out.push("");
        out.push(
            markdownTable(
                ["target", "req/s", "latency p50 / p99 (ms)", "requests", "non-2xx", "errors"],
                [
                    // Runs recorded before the limited key was added measured only the bench's key.
                    { label: cp.modelsUnlimitedKey ? "/v1/models (key with limits)" : "/v1/models", row: cp.models },
                    ...(cp.modelsUnlimitedKey ? [{ label: "/v1/models (--unlimited key)", row: cp.modelsUnlimitedKey }] : []),
                    { label: "/hello", row: cp.helloWorld }
                ].map(({ label, row }) => [
                    label,
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
    out.push(...upstreamRoutingSection());
    out.push("<!-- multi-turn:start -->", ...multiTurnSection(), "<!-- multi-turn:end -->");
    out.push("", "## Method", "");
    out.push(
        [
            "- **Server side:** `quandex serve` started by the tool as a child process with a generated config (one model per server, `preload: true`), " +
                "driven over streaming HTTP (`POST /v1/generate`, `stream: true`, `ignore_eos: true`, temperature 0, fixed seed, fixed prompt set, fixed `max_tokens`) " +
                "through `node:http` with a keep-alive agent, one connection per in-flight request " +
                "(it costs the client less per event than `fetch`, whose body arrives through a WHATWG stream).",
            "- **Baseline:** the stock node-llama-cpp path in its own process: `LlamaCompletion.generateCompletion` on one context with the server's `sequences` " +
                "(= `parallel`), `contextSize` and threads, a fresh sequence per request, greedy, `repeatPenalty` off, EOS kept from being sampled by a token bias. " +
                "It is given the prompt as the tokens the server uses (`model.tokenize(prompt)`; LlamaCompletion adds BOS), so both generate the same tokens: " +
                "given a string, LlamaCompletion tokenizes without the leading space, and a different prompt makes a different (random-weight: differently UTF-8-split) text.",
            "- **Levels:** at concurrency N, N requests are in flight at once (vLLM's `--max-concurrency`); with `--request-rate R` arrivals are Poisson at R req/s. " +
                "Server and baseline levels alternate (server at N, baseline at N, then the next N), never overlapping, so slow drift of a shared machine hits both alike. " +
                "With `--rounds R` (default 3) each level runs R times per side in turn (server, baseline, server, ...; Quandex and llama-server direct likewise; a sweep setting R times in a row): " +
                "tokens and times add up, so throughput is all tokens over all measured time; means are weighted by count; p50 and p99 are the median of the rounds' p50 and p99.",
            "- **Metrics (vLLM's definitions, measured at the client):** TTFT = send → first chunk with non-empty text; TPOT = (e2e − TTFT) / (output tokens − 1), " +
                "output tokens from the final chunk's `usage.completion_tokens`; ITL = gaps between consecutive text chunks; e2e = send → `[DONE]`. " +
                "Throughput = tokens (or requests) ÷ wall time from the first send to the last completion. Percentiles interpolate linearly (numpy's default); " +
                "with few requests p99 is close to the maximum.",
            "- **Idle RSS:** VmRSS of the server process from `/proc/<pid>/status`, with the model loaded, before the first request.",
            "- **Warm-up:** before its first level, each side (server, baseline, llama-server direct) sends unscored requests of the full max_tokens, one at a time, " +
                "so the first level does not measure a cold JIT.",
            "- **CPU ms/token:** CPU time (user + system, all threads, from `/proc/<pid>/stat`, 10 ms ticks) used during the level by the generating process(es) " +
                "(the Quandex server, plus its llama-server child for that engine; the baseline process; the direct llama-server) and by the load client, " +
                "divided by the output tokens. On 2 cores the client's share is CPU the generator could not use; the baseline has no separate client.",
            "- **llama-server engine:** the same levels through Quandex with `engine: {type: llama-server, path}`, alternating with the same binary started by the tool with " +
                "the exact arguments Quandex gave its child (read from the child's `/proc/<pid>/cmdline`, `--host`/`--port` aside), driven directly with streaming " +
                "`POST /completion`: the prompts as token ids from its `/tokenize` (BOS as Quandex adds it), the sampling fields Quandex sends, a fresh connection per request " +
                "(as Quandex connects to its child). TTFT there = send → first event with non-empty `content`; output tokens = the final event's `tokens_predicted`.",
            "- **llama-batched-bench:** the same build's `llama-batched-bench` with `-npp` the mean bench prompt length, `-ntg` = max_tokens, `-npl 1,8` (plus a repeat at B=1 that is not reported: the tool sometimes loses its last output line), " +
                "`-fa off -no-kvu` and the same threads; S_TG (decode tokens/s at B sequences) is the bound for aggregate output tok/s.",
            "- **Thread sweep:** one `quandex serve` per setting (each manual `threads`, then none, so the engine picks its default), at concurrency 1 and 8, per engine."
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
            `request rate ${model.plan.requestRate ?? "inf"}, ${model.plan.rounds ?? 1} round${(model.plan.rounds ?? 1) === 1 ? "" : "s"} per level and side` +
            (model.plan.warmupRequests == null ? "." : `, ${model.plan.warmupRequests} unscored warm-up requests per side before its first level.`)
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
    if (model.llamaServer != null) out.push("", ...llamaServerSection(model));
    if (model.threadSweep != null && model.threadSweep.length > 0) out.push("", ...threadSweepSection(model));
    return out;
}

function llamaServerSection(model: ModelRun): string[] {
    const ls = model.llamaServer!;
    const out: string[] = [];
    out.push(`### llama-server engine (threads ${ls.threads})`);
    if (ls.quandex != null) {
        out.push(
            "",
            `Quandex with \`engine: {type: llama-server}\`, idle RSS ${formatMb(ls.quandex.idleRssBytes)} (Quandex) + ${formatMb(ls.quandex.childIdleRssBytes)} (its llama-server child).`,
            "",
            levelsTable(ls.quandex.levels)
        );
    }
    if (ls.direct != null) {
        out.push(
            "",
            "#### The same llama-server called directly (streaming `/completion`)",
            "",
            `\`${ls.direct.command.replace(/--port \d+/, "--port PORT")}\``,
            "",
            levelsTable(ls.direct.levels)
        );
    }
    if (ls.batchedBench != null) {
        out.push(
            "",
            "#### llama-batched-bench (same binary, same prompt and generated lengths)",
            "",
            `\`${ls.batchedBench.command}\``,
            "",
            '"generated / total time" is B × generated ÷ (prompt time + generation time), counted as a server\'s output tok/s is; S_TG leaves the prompts out.' +
                (ls.batchedBench.runs != null && ls.batchedBench.runs > 1 ? ` Each row is the median of ${ls.batchedBench.runs} runs of the command.` : ""),
            ""
        );
        out.push(
            markdownTable(
                ["B", "prompt tokens", "generated tokens", "S_PP (tok/s)", "S_TG (tok/s)", "S (tok/s)", "generated / total time (tok/s)"],
                ls.batchedBench.rows.map((row) => [
                    String(row.pl),
                    String(row.pp),
                    String(row.tg),
                    fmt(row.speedPp),
                    fmt(row.speedTg),
                    fmt(row.speed),
                    fmt(generatedTokensRate(row))
                ])
            )
        );
    }
    for (const note of ls.notes) out.push("", `Note: ${note}.`);
    out.push("", "#### Both engines side by side (output tok/s; TTFT p50 in ms)", "");
    const at = (levels: readonly LevelMetrics[] | undefined, concurrency: number): LevelMetrics | undefined => levels?.find((l) => l.concurrency === concurrency);
    const concurrencies = [...new Set([...(model.server?.levels ?? []), ...(ls.quandex?.levels ?? [])].map((level) => level.concurrency))].sort((a, b) => a - b);
    out.push(
        markdownTable(
            [
                "concurrency",
                `Quandex in-process (threads ${model.threads})`,
                "LlamaCompletion baseline",
                `Quandex llama-server (threads ${ls.threads})`,
                "llama-server direct",
                "Quandex / direct",
                "llama-batched-bench generated / total time (S_TG)",
                "Quandex llama-server / batched-bench (/ S_TG)",
                "TTFT p50: in-process / baseline / llama-server / direct"
            ],
            concurrencies.map((c) => {
                const inProcess = at(model.server?.levels, c);
                const baseline = at(model.baseline?.levels, c);
                const quandex = at(ls.quandex?.levels, c);
                const direct = at(ls.direct?.levels, c);
                const bench = ls.batchedBench?.rows.find((row) => row.pl === c);
                return [
                    String(c),
                    fmt(inProcess?.outputThroughput),
                    fmt(baseline?.outputThroughput),
                    fmt(quandex?.outputThroughput),
                    fmt(direct?.outputThroughput),
                    quandex != null && direct != null ? `${fmt((quandex.outputThroughput / direct.outputThroughput) * 100)}%` : "n/a",
                    bench != null ? `${fmt(generatedTokensRate(bench))} (${fmt(bench.speedTg)})` : "n/a",
                    quandex != null && bench != null
                        ? `${fmt((quandex.outputThroughput / generatedTokensRate(bench)) * 100)}% (${fmt((quandex.outputThroughput / bench.speedTg) * 100)}%)`
                        : "n/a",
                    [inProcess, baseline, quandex, direct].map((level) => fmt(level?.ttftMs.p50, 2)).join(" / ")
                ];
            })
        )
    );
    return out;
}

function threadSweepSection(model: ModelRun): string[] {
    const out: string[] = ["### Thread sweep (Quandex over HTTP, output tok/s)"];
    for (const sweep of model.threadSweep!) {
        out.push(
            "",
            `Engine ${sweepLabel(sweep)}; "default" is a config without \`threads\` (the count the engine chose in parentheses); ` +
                `a count marked "= default" is the default's own run, which used exactly that count.`,
            ""
        );
        out.push(
            markdownTable(
                ["threads", ...sweep.concurrencyLevels.flatMap((c) => [`c=${c} tok/s`, `c=${c} TTFT p50 (ms)`])],
                sweep.points.map((point) => [
                    point.threads == null ? `default (${defaultThreadsLabel(point)})` : `${point.threads}${point.sameRunAsDefault ? " (= default)" : ""}`,
                    ...sweep.concurrencyLevels.flatMap((c) => {
                        const level = point.levels.find((l) => l.concurrency === c);
                        return [fmt(level?.outputThroughput), fmt(level?.ttftMs.p50, 2)];
                    })
                ])
            )
        );
    }
    out.push(...buildsSideBySide(model));
    return out;
}

/** node-llama-cpp's prebuilt binaries and its local OpenMP build, from their two sweeps, when both ran. */
function buildsSideBySide(model: ModelRun): string[] {
    const sweeps = (model.threadSweep ?? []).filter((sweep) => sweep.engine === "node-llama-cpp");
    const prebuilt = sweeps.find((sweep) => sweep.build === "prebuilt");
    const local = sweeps.find((sweep) => sweep.build === "local");
    if (prebuilt == null || local == null) return [];
    const levels = prebuilt.concurrencyLevels;
    const rowKey = (point: { threads: number | null }): string => (point.threads == null ? "default" : String(point.threads));
    const keys = [...new Set([...prebuilt.points, ...local.points].map(rowKey))];
    const cell = (sweep: typeof prebuilt, key: string, concurrency: number): string => {
        const point = sweep.points.find((p) => rowKey(p) === key);
        const level = point?.levels.find((l) => l.concurrency === concurrency);
        if (level == null) return "n/a";
        return point!.threads == null ? `${fmt(level.outputThroughput)} (${defaultThreadsLabel(point!)})` : fmt(level.outputThroughput);
    };
    return [
        "",
        "#### node-llama-cpp builds side by side (Quandex over HTTP, output tok/s)",
        "",
        "The prebuilt binaries (`engine.build: prebuilt`) against node-llama-cpp's local OpenMP build (`npx --no node-llama-cpp source download --gpu false`), from the two sweeps above.",
        "",
        markdownTable(
            ["threads", ...levels.flatMap((c) => [`c=${c} prebuilt`, `c=${c} local build`])],
            keys.map((key) => [key, ...levels.flatMap((c) => [cell(prebuilt, key, c), cell(local, key, c)])])
        )
    ];
}
