/**
 * Issue #7's "default thread choice within 90% of the best manual thread count": Quandex started
 * once per thread setting (each manual count, then no `threads` at all, so the engine's default
 * applies), each run at single stream and at concurrency 8 over streaming HTTP.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeLevel } from "./format.js";
import { quandexChildArgs } from "./llamaServer/directLlamaServer.js";
import type { LevelMetrics } from "./metrics.js";
import { loadedThreads, startQuandexServer, type BenchEngineConfig, type QuandexServer } from "./process/quandexServer.js";
import type { LoadPlan } from "./runLoad.js";
import { ServeBench } from "./serveBench.js";

export type ThreadSweepPoint = {
    /** The `threads` setting; `null` for none (the engine's default). */
    threads: number | null;
    /** What the server reported using ("model loaded" log line); for the default, the count it chose. */
    resolvedThreads: number | null;
    levels: LevelMetrics[];
};

export type ThreadSweepRun = {
    engine: BenchEngineConfig["type"];
    concurrencyLevels: number[];
    points: ThreadSweepPoint[];
};

export type ThreadSweepOptions = {
    engine: BenchEngineConfig;
    modelId: string;
    modelPath: string;
    plan: Omit<LoadPlan, "concurrencyLevels">;
    concurrencyLevels: number[];
    /** Manual counts to try; the default (no setting) is always tried last. */
    threadCounts: number[];
    contextSize: number;
    parallel: number;
    log: (line: string) => void;
};

export async function runThreadSweep(options: ThreadSweepOptions): Promise<ThreadSweepRun> {
    const { engine, modelId, modelPath, contextSize, parallel, log } = options;
    const plan: LoadPlan = { ...options.plan, concurrencyLevels: options.concurrencyLevels };
    const result: ThreadSweepRun = { engine: engine.type, concurrencyLevels: options.concurrencyLevels, points: [] };
    for (const threads of [...options.threadCounts, null]) {
        const workDir = await mkdtemp(join(tmpdir(), "quandex-bench-threads-"));
        let server: QuandexServer | null = null;
        let serve: ServeBench | null = null;
        try {
            server = await startQuandexServer({ models: [{ id: modelId, path: modelPath, parallel, contextSize, threads: threads ?? undefined }], engine, workDir });
            const point: ThreadSweepPoint = { threads, resolvedThreads: loadedThreads(server.logPath, modelId), levels: [] };
            result.points.push(point);
            // The llama-server engine's child generates too: its CPU counts as the server's.
            const pids = engine.type === "llama-server" ? [server.pid, quandexChildArgs(server.pid).pid] : [server.pid];
            serve = await ServeBench.open({ baseUrl: server.baseUrl, apiKey: server.apiKey, model: modelId, plan, pids });
            const label = `threads ${threads ?? `default (${point.resolvedThreads ?? "?"})`}`;
            for (const concurrency of plan.concurrencyLevels) {
                const level = await serve.runLevel(concurrency);
                log(describeLevel(`sweep ${engine.type} ${label}`, level));
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
