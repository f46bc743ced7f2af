/**
 * Issue #7's "default thread choice within 90% of the best manual thread count": Quandex started
 * once per thread setting (no `threads` at all first, so the engine's default applies, then each
 * manual count), each run at single stream and at concurrency 8 over streaming HTTP. A manual count
 * the default already ran as (same fixed count, so the same child arguments) is not run again: its
 * row is the default's run, so two runs of one configuration cannot differ by noise alone.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultThreadsLabel, describeLevel, sweepLabel } from "./format.js";
import { quandexChildArgs } from "./llamaServer/directLlamaServer.js";
import { alternateRounds, type LevelMetrics } from "./metrics.js";
import { loadedThreads, runningBuild, startQuandexServer, type BenchEngineConfig, type QuandexServer } from "./process/quandexServer.js";
import type { LoadPlan } from "./runLoad.js";
import { ServeBench } from "./serveBench.js";

export type ThreadSweepPoint = {
    /** The `threads` setting; `null` for none (the engine's default). */
    threads: number | null;
    /** What the server reported using ("model loaded" log line); for the default, the count it chose. */
    resolvedThreads: number | null;
    /** The count varied per batch, from 1 up to `resolvedThreads` (node-llama-cpp prebuilt, `threads` unset). */
    perBatch?: boolean;
    /** For a manual count: measured by the default's run, which used exactly this fixed count. */
    sameRunAsDefault?: boolean;
    levels: LevelMetrics[];
};

export type ThreadSweepRun = {
    engine: BenchEngineConfig["type"];
    /** The llama.cpp build the servers ran (node-llama-cpp: `prebuilt` or its `local` OpenMP build; llama-server: `local`). */
    build?: "prebuilt" | "local" | null;
    concurrencyLevels: number[];
    points: ThreadSweepPoint[];
};

export type ThreadSweepOptions = {
    engine: BenchEngineConfig;
    modelId: string;
    modelPath: string;
    plan: Omit<LoadPlan, "concurrencyLevels">;
    concurrencyLevels: number[];
    /** Manual counts to try; the default (no setting) is always tried first. */
    threadCounts: number[];
    contextSize: number;
    parallel: number;
    log: (line: string) => void;
};

export async function runThreadSweep(options: ThreadSweepOptions): Promise<ThreadSweepRun> {
    const { engine, modelId, modelPath, contextSize, parallel, log } = options;
    const plan: LoadPlan = { ...options.plan, concurrencyLevels: options.concurrencyLevels };
    const result: ThreadSweepRun = { engine: engine.type, concurrencyLevels: options.concurrencyLevels, points: [] };
    for (const threads of [null, ...options.threadCounts]) {
        const defaults = result.points[0];
        if (threads !== null && defaults && !defaults.perBatch && defaults.resolvedThreads === threads) {
            result.points.push({ threads, resolvedThreads: threads, sameRunAsDefault: true, levels: defaults.levels });
            log(`sweep ${sweepLabel(result)} threads ${threads}: the default's run (it used threads ${threads})`);
            continue;
        }
        const workDir = await mkdtemp(join(tmpdir(), "quandex-bench-threads-"));
        let server: QuandexServer | null = null;
        let serve: ServeBench | null = null;
        try {
            server = await startQuandexServer({ models: [{ id: modelId, path: modelPath, parallel, contextSize, threads: threads ?? undefined }], engine, workDir });
            const loaded = loadedThreads(server.logPath, modelId);
            result.build ??= engine.type === "llama-server" ? "local" : runningBuild(server.logPath);
            const point: ThreadSweepPoint = { threads, resolvedThreads: loaded?.threads ?? null, perBatch: loaded?.perBatch ?? false, levels: [] };
            result.points.push(point);
            // The llama-server engine's child generates too: its CPU counts as the server's.
            const pids = engine.type === "llama-server" ? [server.pid, quandexChildArgs(server.pid).pid] : [server.pid];
            serve = await ServeBench.open({ baseUrl: server.baseUrl, apiKey: server.apiKey, model: modelId, plan, pids });
            const label = `threads ${threads ?? `default (${defaultThreadsLabel(point)})`}`;
            for (const concurrency of plan.concurrencyLevels) {
                const server = serve;
                const { a: level } = await alternateRounds(plan.rounds ?? 1, () => server.runLevel(concurrency), null);
                log(describeLevel(`sweep ${sweepLabel(result)} ${label}`, level));
                point.levels.push(level);
            }
        } finally {
            serve?.close();
            await server?.stop();
        }
        await rm(workDir, { recursive: true, force: true });
    }
    return result;
}
