/**
 * `npm run bench`: the serving benchmark end to end. For each model it starts `quandex serve` as a
 * child process and records its idle RSS, starts the in-process baseline in a worker process with the
 * same settings, then runs each concurrency level on the server (streaming HTTP) and then on the
 * baseline, one at a time, never both at once (2 cores). The control plane (autocannon) runs once,
 * against the first model's server. It writes the results JSON to `bench/results/` and BENCHMARKS.md
 * at the repo root.
 *
 * With a llama-server binary (`--llama-server`, `QUANDEX_LLAMA_SERVER`, or the one `quandex engine
 * build` installed), each model then runs on Quandex's llama-server engine and on the same llama-server
 * called directly, level by level, followed by llama-batched-bench at B = 1 and 8 (issue #8). Without
 * one, those parts are skipped with the reason printed. The thread sweep (issue #7's default thread
 * choice) starts Quandex once per thread setting, each manual count and then none (the engine's
 * default), per engine.
 *
 * `--smoke` is the CI mode: tiny models and sizes, results to `bench/results/tmp/`, no BENCHMARKS.md,
 * no thread sweep, and the llama-server parts on the first model only (when a binary exists).
 * The exit code is non-zero when something is broken (failed requests, no tokens, a wrong token count,
 * a server that does not start), never because of speed.
 *
 * This file only orders the parts: the flags are read in `parseBenchArgs.ts` (`--help` lists them),
 * and each part of a model's run is one function in `workloads/`.
 */
import os from "node:os";
import type { ControlPlaneResult } from "./controlPlaneBench.js";
import { findLlamaServer, type LlamaServerBinaries } from "./llamaServer/findLlamaServer.js";
import { modelChoices } from "./modelChoices.js";
import { parseBenchArgs, type BenchCommand, type BenchOptions } from "./parseBenchArgs.js";
import type { ModelRun } from "./RunResult.js";
import type { BenchContext } from "./workloads/BenchContext.js";
import { benchControlPlane } from "./workloads/benchControlPlane.js";
import { benchInProcess } from "./workloads/benchInProcess.js";
import { benchLlamaServer } from "./workloads/benchLlamaServer.js";
import { benchThreadSweep } from "./workloads/benchThreadSweep.js";
import { prepareModelBench } from "./workloads/ModelBench.js";
import { rewriteReport } from "./workloads/rewriteReport.js";
import { writeRunResult } from "./workloads/writeRunResult.js";

async function main(): Promise<number> {
    let command: BenchCommand;
    try {
        command = parseBenchArgs(process.argv.slice(2));
    } catch (error) {
        // A mistyped flag needs its message and the way to the list, not a stack trace.
        console.error(`${error instanceof Error ? error.message : String(error)}\nRun with --help for the flags.`);
        return 1;
    }
    if (command.kind === "help") {
        console.log(command.text);
        return 0;
    }
    if (command.kind === "report-from") {
        await rewriteReport(command.path);
        return 0;
    }
    const options = command.options;
    const startedAt = new Date();
    const loadAverageAtStart = os.loadavg();
    const log = (line: string): void => console.log(`[bench] ${line}`);
    const { binaries, skipped: llamaServerSkipped } = await locateLlamaServer(options, log);
    const context: BenchContext = { options, binaries, problems: [], log };

    const models: ModelRun[] = [];
    let controlPlane: ControlPlaneResult | null = null;
    for (const key of options.models) {
        const model = await prepareModelBench(modelChoices[key]!, options);
        models.push(model.run);
        log(`${model.choice.id}: ${model.path}`);

        await benchInProcess(context, model, async (server) => {
            if (controlPlane == null && !options.skipControlPlane) controlPlane = await benchControlPlane(context, server);
        });
        // Smoke runs the llama-server legs on the first model only.
        if (binaries != null && (!options.smoke || key === options.models[0])) await benchLlamaServer(context, model, binaries);
        if (options.threadSweep) await benchThreadSweep(context, model);
    }

    const { targets, problems } = await writeRunResult(context, { startedAt, loadAverageAtStart, models, controlPlane, llamaServerSkipped });
    console.log("\nTargets:");
    for (const row of targets) {
        console.log(`  [${row.pass == null ? "n/a " : row.pass ? "pass" : "FAIL"}] ${row.target}${row.model ? ` (${row.model})` : ""}: ${row.measured}`);
    }
    if (llamaServerSkipped != null && options.engines.includes("llama-server")) {
        console.log(`  (llama-server targets not measured: ${llamaServerSkipped})`);
    }
    if (problems.length > 0) {
        console.error(`\n${problems.length} correctness problem(s):`);
        for (const problem of problems) console.error(`  - ${problem}`);
        return 1;
    }
    return 0;
}

/** The llama-server binaries for the llama-server parts, or why those parts are skipped. */
async function locateLlamaServer(options: BenchOptions, log: (line: string) => void): Promise<{ binaries: LlamaServerBinaries | null; skipped: string | null }> {
    if (!options.engines.includes("llama-server")) return { binaries: null, skipped: "not in --engines" };
    const found = await findLlamaServer(options.llamaServerPath);
    if ("missing" in found) {
        log(`llama-server parts skipped: ${found.missing}`);
        return { binaries: null, skipped: found.missing };
    }
    const { binaries } = found;
    log(`llama-server: ${binaries.server} (from ${binaries.source}); llama-batched-bench: ${binaries.batchedBench ?? "not found"}`);
    return { binaries, skipped: null };
}

main().then(
    (code) => {
        process.exitCode = code;
    },
    (error: unknown) => {
        console.error(error instanceof Error ? error.stack : error);
        process.exitCode = 1;
    }
);
