/**
 * The llama-server engine's part of a model's run: Quandex with `engine: {type: llama-server}` and
 * the same llama-server called directly, level by level (Quandex at N, direct at N, then the next N,
 * never overlapping), then llama-batched-bench at B = 1 and 8 on the same binary.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describeLevel } from "../format.js";
import { alternateRounds, type LevelMetrics } from "../metrics.js";
import { readRssBytes } from "../process/childServer.js";
import { loadedThreads, startQuandexServer, type QuandexServer } from "../process/quandexServer.js";
import type { LoadPlan } from "../runLoad.js";
import { ServeBench } from "../serveBench.js";
import type { BatchedBenchResult } from "./batchedBench.js";
import { DirectBench, quandexChildArgs, startDirectLlamaServer, type DirectLlamaServer } from "./directLlamaServer.js";
import type { LlamaServerBinaries } from "./findLlamaServer.js";
import { runBatchedBenchLeg } from "./runBatchedBenchLeg.js";

export type LlamaServerRun = {
    binary: string;
    /** The threads the child ran with (the engine's choice when the bench set none). */
    threads: number;
    /** Quandex with the llama-server engine, over streaming HTTP. */
    quandex: {
        levels: LevelMetrics[];
        /** VmRSS of the Quandex process alone, and of its llama-server child, idle with the model loaded. */
        idleRssBytes: number | null;
        childIdleRssBytes: number | null;
        command: string;
        configYaml: string;
    } | null;
    /** The same binary and flags, started by the bench and driven with streaming `/completion`. */
    direct: { levels: LevelMetrics[]; command: string } | null;
    batchedBench: BatchedBenchResult | null;
    /** Why a part did not run (no batched-bench binary, smoke mode), for the report. */
    notes: string[];
};

export type LlamaServerLegsOptions = {
    binaries: LlamaServerBinaries;
    modelId: string;
    modelPath: string;
    plan: LoadPlan;
    /** `null`: no `threads` in the config, so the engine chooses, as it would for a user. */
    threads: number | null;
    contextSize: number;
    parallel: number;
    workDir: string;
    /** B values for llama-batched-bench; empty skips it. */
    batchedBenchParallel: number[];
    log: (line: string) => void;
};

/** Runs every llama-server leg for one model; fills `run` as it goes, so a failure keeps what was measured. */
export async function runLlamaServerLegs(options: LlamaServerLegsOptions, run: LlamaServerRun): Promise<void> {
    const { binaries, modelId, modelPath, plan, threads, contextSize, parallel, workDir, log } = options;
    let quandex: QuandexServer | null = null;
    let direct: DirectLlamaServer | null = null;
    let serve: ServeBench | null = null;
    let meanPromptTokens: number;
    try {
        quandex = await startQuandexServer({
            models: [{ id: modelId, path: modelPath, parallel, contextSize, threads: threads ?? undefined }],
            engine: { type: "llama-server", path: binaries.server },
            workDir
        });
        log(`llama-server engine: Quandex up: ${quandex.command}`);
        run.threads = loadedThreads(quandex.logPath, modelId)?.threads ?? threads ?? 0;
        await sleep(1000);
        const child = quandexChildArgs(quandex.pid);
        const childPid = child.pid;
        run.quandex = {
            levels: [],
            idleRssBytes: readRssBytes(quandex.pid),
            childIdleRssBytes: readRssBytes(childPid),
            command: quandex.command,
            configYaml: quandex.configYaml
        };
        direct = await startDirectLlamaServer({ binary: child.binary, args: child.args, workDir });
        run.direct = { levels: [], command: direct.command };
        log(`llama-server direct: ${direct.command}`);
        serve = await ServeBench.open({ baseUrl: quandex.baseUrl, apiKey: quandex.apiKey, model: modelId, plan, pids: [quandex.pid, childPid] });
        const directBench = await DirectBench.open(direct.origin, plan, direct.pid);
        meanPromptTokens = directBench.meanPromptTokens;
        for (const concurrency of plan.concurrencyLevels) {
            const quandexBench = serve;
            const { a: level, b: directLevel } = await alternateRounds(
                plan.rounds ?? 1,
                () => quandexBench.runLevel(concurrency),
                () => directBench.runLevel(concurrency),
                (side, round, index) => log(describeLevel(`${side === "a" ? "quandex/llama-server" : "llama-server direct"} round ${index}`, round))
            );
            log(describeLevel("quandex/llama-server", level));
            run.quandex.levels.push(level);
            log(describeLevel("llama-server direct", directLevel!));
            run.direct.levels.push(directLevel!);
        }
    } finally {
        serve?.close();
        await direct?.stop();
        await quandex?.stop();
    }
    // The same prompt length the levels sent, so S_TG bounds the workload just measured.
    await runBatchedBenchLeg(
        {
            binaries,
            modelPath,
            threads: run.threads,
            promptTokens: Math.round(meanPromptTokens),
            generatedTokens: plan.maxTokens,
            parallel: options.batchedBenchParallel,
            contextSize,
            log
        },
        run
    );
}
