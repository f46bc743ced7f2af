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
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os, { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { runControlPlaneBench, type ControlPlaneResult } from "./controlPlaneBench.js";
import { describeBaselineSettings, describeLevel, formatMb, sweepLabel } from "./format.js";
import { makeSyntheticModel, syntheticModelPresets } from "./makeSyntheticModel.js";
import { alternateRounds, type LevelMetrics } from "./metrics.js";
import { benchDir, defaultTestModelPath, repoRoot } from "./paths.js";
import { BaselineWorker } from "./process/BaselineWorker.js";
import { readRssBytes } from "./process/childServer.js";
import { startQuandexServer, type BenchEngineConfig, type QuandexServer } from "./process/quandexServer.js";
import { renderReport } from "./renderReport.js";
import type { ModelRun, RunResult } from "./RunResult.js";
import { defaultWarmupRequests, type LoadPlan } from "./runLoad.js";
import { ServeBench } from "./serveBench.js";
import { findLlamaServer, type LlamaServerBinaries } from "./llamaServer/findLlamaServer.js";
import { runLlamaServerLegs, type LlamaServerRun } from "./llamaServer/llamaServerLegs.js";
import { runTargets } from "./targets.js";
import { runThreadSweep, type ThreadSweepRun } from "./threadSweep.js";

type ModelChoice = { key: string; id: string; description: string; plan: Omit<LoadPlan, "concurrencyLevels" | "requestRate">; path: () => Promise<string> };

/** The models `--models` can name. The 85M run uses fewer tokens so the whole bench stays within minutes. */
const modelChoices: Record<string, ModelChoice> = {
    tiny: {
        key: "tiny",
        id: "stories260K",
        description: "stories260K, the trained test model, ~260K parameters, F32: measures overhead",
        plan: { maxTokens: 128, requestsPerSlot: 4, minRequests: 32, warmupRequests: defaultWarmupRequests },
        path: async () => defaultTestModelPath
    },
    "85m": {
        key: "85m",
        id: "synthetic-85m",
        description: "synthetic llama, 85.7M parameters, F16, random weights: measures realistic compute",
        // 16 requests per round even at one stream: TTFT p50 is read per round, and 8 samples left it to chance.
        plan: { maxTokens: 32, requestsPerSlot: 2, minRequests: 16, warmupRequests: defaultWarmupRequests },
        path: async () => (await makeSyntheticModel(syntheticModelPresets["85m"])).path
    },
    "synthetic-tiny": {
        key: "synthetic-tiny",
        id: "synthetic-tiny",
        description: "synthetic llama, 0.15M parameters, F16, random weights: exercises the generator",
        plan: { maxTokens: 128, requestsPerSlot: 4, minRequests: 8, warmupRequests: defaultWarmupRequests },
        path: async () => (await makeSyntheticModel(syntheticModelPresets.tiny)).path
    }
};

const smokePlan = { maxTokens: 8, requestsPerSlot: 1, minRequests: 2, warmupRequests: 1 };

async function main(): Promise<number> {
    const { values } = parseArgs({
        options: {
            smoke: { type: "boolean", default: false },
            models: { type: "string" },
            concurrency: { type: "string" },
            "max-tokens": { type: "string" },
            "warmup-requests": { type: "string" },
            "request-rate": { type: "string" },
            rounds: { type: "string" },
            threads: { type: "string", default: "1" },
            "context-size": { type: "string", default: "512" },
            "skip-baseline": { type: "boolean", default: false },
            "skip-control-plane": { type: "boolean", default: false },
            engines: { type: "string" },
            "llama-server": { type: "string" },
            "llama-server-threads": { type: "string" },
            "thread-sweep": { type: "boolean" },
            "skip-thread-sweep": { type: "boolean", default: false },
            "thread-sweep-threads": { type: "string" },
            "thread-sweep-concurrency": { type: "string", default: "1,8" },
            "autocannon-duration": { type: "string" },
            "autocannon-connections": { type: "string", default: "10" },
            report: { type: "boolean" },
            "no-report": { type: "boolean", default: false },
            "report-from": { type: "string" },
            help: { type: "boolean", default: false }
        }
    });
    if (values.help) {
        console.log(
            "Usage: npm run bench -- [--smoke] [--models tiny,85m,synthetic-tiny] [--concurrency 1,4,8,16] [--max-tokens N] [--warmup-requests 4]\n" +
                "       [--request-rate R] [--rounds 3] [--threads 1] [--context-size 512] [--skip-baseline] [--skip-control-plane]\n" +
                "       [--engines node-llama-cpp,llama-server] [--llama-server PATH] [--llama-server-threads N (default: the engine's choice)]\n" +
                "       [--thread-sweep | --skip-thread-sweep] [--thread-sweep-threads 1,2] [--thread-sweep-concurrency 1,8]\n" +
                "       [--autocannon-duration S] [--autocannon-connections 10] [--report | --no-report]\n" +
                "       --report-from bench/results/FILE.json   (write BENCHMARKS.md again from a recorded run)"
        );
        return 0;
    }
    if (values["report-from"] != null) {
        const recorded = JSON.parse(await readFile(values["report-from"], "utf8")) as RunResult;
        // Targets are judged again by this version's rules from the recorded measurements.
        await writeFile(join(repoRoot, "BENCHMARKS.md"), renderReport({ ...recorded, targets: runTargets(recorded.models, recorded.controlPlane) }));
        console.log(`[bench] wrote BENCHMARKS.md from ${values["report-from"]}`);
        return 0;
    }
    const smoke = values.smoke;
    const startedAt = new Date();
    const loadAverageAtStart = os.loadavg();
    const threads = Number.parseInt(values.threads, 10);
    const contextSize = Number.parseInt(values["context-size"], 10);
    const concurrencyLevels = (values.concurrency ?? (smoke ? "1,2" : "1,4,8,16")).split(",").map((level) => Number.parseInt(level, 10));
    const requestRate = values["request-rate"] == null ? null : Number(values["request-rate"]);
    const parallel = Math.max(...concurrencyLevels);
    const writeReport = values.report ?? (!smoke && !values["no-report"]);
    const modelKeys = (values.models ?? (smoke ? "tiny,synthetic-tiny" : "tiny,85m")).split(",");
    for (const key of modelKeys) {
        if (modelChoices[key] == null) throw new Error(`unknown model '${key}'; use ${Object.keys(modelChoices).join(", ")}`);
    }
    const log = (line: string): void => console.log(`[bench] ${line}`);
    const cores = os.availableParallelism();
    const engines = (values.engines ?? "node-llama-cpp,llama-server").split(",");
    for (const engine of engines) {
        if (engine !== "node-llama-cpp" && engine !== "llama-server") throw new Error(`unknown engine '${engine}'; use node-llama-cpp, llama-server`);
    }
    // Unset: the llama-server engine's own choice for each model (threads: auto), as a user gets it.
    const llamaServerThreads = values["llama-server-threads"] == null ? null : Number.parseInt(values["llama-server-threads"], 10);
    const threadSweep = !values["skip-thread-sweep"] && (values["thread-sweep"] ?? !smoke);
    const sweepThreads =
        values["thread-sweep-threads"] != null
            ? values["thread-sweep-threads"].split(",").map((n) => Number.parseInt(n, 10))
            : [...new Set([1, 2, Math.ceil(cores / 2), cores].filter((n) => n <= cores))].sort((a, b) => a - b);
    const sweepConcurrency = values["thread-sweep-concurrency"].split(",").map((n) => Number.parseInt(n, 10));

    let binaries: LlamaServerBinaries | null = null;
    let llamaServerSkipped: string | null = null;
    if (engines.includes("llama-server")) {
        const found = await findLlamaServer(values["llama-server"]);
        if ("missing" in found) {
            llamaServerSkipped = found.missing;
            log(`llama-server parts skipped: ${found.missing}`);
        } else {
            binaries = found.binaries;
            log(`llama-server: ${binaries.server} (from ${binaries.source}); llama-batched-bench: ${binaries.batchedBench ?? "not found"}`);
        }
    } else {
        llamaServerSkipped = "not in --engines";
    }

    const problems: string[] = [];
    const models: ModelRun[] = [];
    let controlPlane: ControlPlaneResult | null = null;
    for (const key of modelKeys) {
        const choice = modelChoices[key]!;
        const plan: LoadPlan = {
            ...(smoke ? smokePlan : choice.plan),
            ...(values["max-tokens"] != null && { maxTokens: Number.parseInt(values["max-tokens"], 10) }),
            ...(values["warmup-requests"] != null && { warmupRequests: Number.parseInt(values["warmup-requests"], 10) }),
            concurrencyLevels,
            requestRate,
            rounds: values.rounds != null ? Number.parseInt(values.rounds, 10) : smoke ? 1 : 3
        };
        const path = await choice.path();
        const run: ModelRun = {
            key,
            id: choice.id,
            path,
            description: choice.description,
            fileBytes: (await stat(path)).size,
            plan,
            threads,
            contextSize,
            parallel,
            server: null,
            baseline: null
        };
        models.push(run);
        log(`${choice.id}: ${path}`);

        const workDir = await mkdtemp(join(tmpdir(), `quandex-bench-${key}-`));
        let server: QuandexServer | null = null;
        let serve: ServeBench | null = null;
        let worker: BaselineWorker | null = null;
        let succeeded = false;
        try {
            if (!engines.includes("node-llama-cpp")) {
                succeeded = true;
                throw new SkipInProcess();
            }
            server = await startQuandexServer({ models: [{ id: choice.id, path, parallel, contextSize, threads }], workDir });
            log(`server up: ${server.command}`);
            await sleep(1000);
            const idleRssBytes = readRssBytes(server.pid);
            log(`server idle RSS with ${choice.id} loaded: ${formatMb(idleRssBytes)}`);
            run.server = {
                levels: [],
                idleRssBytes,
                idleRssAfterBytes: null,
                unlimitedKey: server.unlimitedKey,
                command: server.command,
                configYaml: server.configYaml
            };
            serve = await ServeBench.open({ baseUrl: server.baseUrl, apiKey: server.apiKey, model: choice.id, plan, pids: [server.pid] });
            if (!values["skip-baseline"]) {
                worker = await BaselineWorker.start({ modelPath: path, threads, contextSize, sequences: parallel, plan });
                run.baseline = { settings: worker.settings, levels: [] };
                log(describeBaselineSettings(worker.settings));
            }
            // Server and baseline levels alternate, round after round, so the slow drift of a shared machine hits both alike.
            for (const concurrency of concurrencyLevels) {
                const baselineWorker = worker;
                const { a: level, b: baselineLevel } = await alternateRounds(
                    plan.rounds ?? 1,
                    () => serve!.runLevel(concurrency),
                    baselineWorker ? () => baselineWorker.runLevel(concurrency) : null,
                    (side, round, index) => log(describeLevel(`${side === "a" ? "server" : "baseline"} round ${index}`, round))
                );
                log(describeLevel("server", level));
                run.server.levels.push(level);
                if (baselineLevel != null) {
                    log(describeLevel("baseline", baselineLevel));
                    run.baseline!.levels.push(baselineLevel);
                }
            }
            await worker?.close();
            worker = null;
            if (controlPlane == null && !values["skip-control-plane"]) {
                log("control plane: autocannon on GET /v1/models and on a hello-world Fastify");
                controlPlane = await runControlPlaneBench({
                    baseUrl: server.baseUrl,
                    apiKey: server.apiKey,
                    connections: Number.parseInt(values["autocannon-connections"], 10),
                    durationS: Number(values["autocannon-duration"] ?? (smoke ? 1 : 5)),
                    warmupS: smoke ? 0 : 1,
                    rounds: plan.rounds ?? 1
                });
                log(
                    `control plane: /v1/models ${controlPlane.models.requestsPerSec.toFixed(0)} req/s, hello-world ` +
                        `${controlPlane.helloWorld.requestsPerSec.toFixed(0)} req/s (medians), ratio ${(controlPlane.ratio * 100).toFixed(1)}% ` +
                        `(rounds: ${(controlPlane.roundRatios ?? []).map((r) => `${(r * 100).toFixed(1)}%`).join(", ")})`
                );
                problems.push(...controlPlaneProblems(controlPlane));
            }
            await sleep(1000);
            run.server.idleRssAfterBytes = readRssBytes(server.pid);
            succeeded = true;
        } catch (error) {
            if (!(error instanceof SkipInProcess)) {
                problems.push(`bench of ${choice.id} failed: ${error instanceof Error ? error.message : String(error)} (files kept in ${workDir})`);
                log(problems[problems.length - 1]!);
            }
        } finally {
            serve?.close();
            await worker?.close();
            await server?.stop();
        }
        if (succeeded) await rm(workDir, { recursive: true, force: true });
        if (run.server != null) problems.push(...levelProblems(`server ${choice.id}`, run.server.levels, plan));
        if (run.baseline != null) problems.push(...levelProblems(`baseline ${choice.id}`, run.baseline.levels, plan));

        // The llama-server engine, the same llama-server called directly, llama-batched-bench (smoke: first model only).
        if (binaries != null && (!smoke || key === modelKeys[0])) {
            const lsRun: LlamaServerRun = { binary: binaries.server, threads: llamaServerThreads ?? 0, quandex: null, direct: null, batchedBench: null, notes: [] };
            run.llamaServer = lsRun;
            const lsDir = await mkdtemp(join(tmpdir(), `quandex-bench-ls-${key}-`));
            try {
                await runLlamaServerLegs(
                    {
                        binaries,
                        modelId: choice.id,
                        modelPath: path,
                        plan,
                        threads: llamaServerThreads,
                        contextSize,
                        parallel,
                        workDir: lsDir,
                        batchedBenchParallel: smoke ? [1, 2] : [1, 8],
                        log
                    },
                    lsRun
                );
                await rm(lsDir, { recursive: true, force: true });
            } catch (error) {
                problems.push(`llama-server bench of ${choice.id} failed: ${error instanceof Error ? error.message : String(error)} (files kept in ${lsDir})`);
                log(problems[problems.length - 1]!);
            }
            if (lsRun.quandex != null) problems.push(...levelProblems(`quandex/llama-server ${choice.id}`, lsRun.quandex.levels, plan));
            if (lsRun.direct != null) problems.push(...levelProblems(`llama-server direct ${choice.id}`, lsRun.direct.levels, plan));
        }

        if (threadSweep) {
            const sweeps: ThreadSweepRun[] = [];
            run.threadSweep = sweeps;
            const sweep = async (engine: BenchEngineConfig): Promise<ThreadSweepRun> => {
                const result = await runThreadSweep({
                    engine,
                    modelId: choice.id,
                    modelPath: path,
                    plan,
                    concurrencyLevels: sweepConcurrency,
                    threadCounts: sweepThreads,
                    contextSize,
                    parallel: Math.max(parallel, ...sweepConcurrency),
                    log
                });
                sweeps.push(result);
                for (const point of result.points) {
                    problems.push(...levelProblems(`thread sweep ${sweepLabel(result)} ${choice.id} threads ${point.threads ?? "default"}`, point.levels, plan));
                }
                return result;
            };
            const sweepEngines = engines.filter((engine) => engine === "node-llama-cpp" || binaries != null);
            for (const engine of sweepEngines) {
                try {
                    const result = await sweep(engine === "llama-server" ? { type: "llama-server", path: binaries!.server } : { type: "node-llama-cpp" });
                    // With node-llama-cpp's local OpenMP build installed, the same sweep on the prebuilt binaries shows both builds side by side.
                    if (engine === "node-llama-cpp" && result.build === "local") await sweep({ type: "node-llama-cpp", build: "prebuilt" });
                } catch (error) {
                    problems.push(`thread sweep of ${choice.id} on ${engine} failed: ${error instanceof Error ? error.message : String(error)}`);
                    log(problems[problems.length - 1]!);
                }
            }
        }
    }

    const targets = runTargets(models, controlPlane);
    const baselineSettings = models.find((run) => run.baseline != null)?.baseline?.settings;
    const result: RunResult = {
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        command: commandLine(),
        smoke,
        machine: {
            cpuModel: os.cpus()[0]?.model ?? "unknown",
            cores: os.cpus().length,
            memoryBytes: os.totalmem(),
            os: `${os.type()} ${os.release()} ${os.arch()}`,
            node: process.version,
            nodeLlamaCpp: baselineSettings?.nodeLlamaCppVersion ?? null,
            buildType: baselineSettings?.buildType ?? null,
            llamaCppRelease: baselineSettings?.llamaCppRelease ?? null,
            loadAverageAtStart,
            loadAverageAtEnd: os.loadavg()
        },
        models,
        controlPlane,
        llamaServer: { binary: binaries?.server ?? null, batchedBench: binaries?.batchedBench ?? null, source: binaries?.source ?? null, skipped: llamaServerSkipped },
        targets,
        problems
    };

    const resultsDir = join(benchDir, "results", smoke ? "tmp" : "");
    await mkdir(resultsDir, { recursive: true });
    const resultsPath = join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
    await writeFile(resultsPath, `${JSON.stringify(result, null, 2)}\n`);
    log(`results: ${relative(repoRoot, resultsPath)}`);
    if (writeReport) {
        await writeFile(join(repoRoot, "BENCHMARKS.md"), renderReport(result));
        log("wrote BENCHMARKS.md");
    }

    console.log("\nTargets:");
    for (const row of targets) {
        console.log(`  [${row.pass == null ? "n/a " : row.pass ? "pass" : "FAIL"}] ${row.target}${row.model ? ` (${row.model})` : ""}: ${row.measured}`);
    }
    if (llamaServerSkipped != null && engines.includes("llama-server")) {
        console.log(`  (llama-server targets not measured: ${llamaServerSkipped})`);
    }
    if (problems.length > 0) {
        console.error(`\n${problems.length} correctness problem(s):`);
        for (const problem of problems) console.error(`  - ${problem}`);
        return 1;
    }
    return 0;
}

/** Thrown to leave the in-process legs when `--engines` leaves out node-llama-cpp. */
class SkipInProcess extends Error {}

/** Correctness checks on a set of levels: failures, no tokens, or requests that did not run to max_tokens. */
function levelProblems(what: string, levels: readonly LevelMetrics[], plan: LoadPlan): string[] {
    const problems: string[] = [];
    for (const level of levels) {
        const at = `${what} at concurrency ${level.concurrency}`;
        if (level.failed > 0) problems.push(`${at}: ${level.failed} request(s) failed: ${level.errors.join("; ")}`);
        if (level.totalOutputTokens === 0) problems.push(`${at}: no tokens received`);
        if (level.wrongLength > 0) {
            problems.push(`${at}: ${level.wrongLength} request(s) did not generate exactly max_tokens=${plan.maxTokens} tokens despite ignore_eos`);
        }
    }
    return problems;
}

function controlPlaneProblems(result: ControlPlaneResult): string[] {
    return [result.models, ...(result.modelsUnlimitedKey ? [result.modelsUnlimitedKey] : []), result.helloWorld].flatMap((target) =>
        target.totalRequests === 0 || target.non2xx > 0 || target.errors > 0
            ? [`autocannon on ${target.url}: ${target.totalRequests} requests, ${target.non2xx} non-2xx, ${target.errors} errors`]
            : []
    );
}

function commandLine(): string {
    const args = process.argv.slice(2).join(" ");
    if (process.env.npm_lifecycle_event === "bench") return `npm run bench${args ? ` -- ${args}` : ""}`;
    return `node --import tsx ${relative(repoRoot, process.argv[1] ?? "bench/src/main.ts")}${args ? ` ${args}` : ""}`;
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
