import { sweepLabel } from "../format.js";
import type { BenchEngineConfig } from "../process/quandexServer.js";
import { runThreadSweep, type ThreadSweepRun } from "../threadSweep.js";
import type { BenchContext } from "./BenchContext.js";
import { levelProblems } from "./levelProblems.js";
import type { ModelBench } from "./ModelBench.js";

/**
 * The thread sweep (issue #7's default thread choice): Quandex started once per thread setting,
 * the engine's default and each manual count, on each engine of the run (llama-server only when a
 * binary was found). With node-llama-cpp's local OpenMP build installed, the same sweep runs again
 * on the prebuilt binaries, so both builds show side by side. Fills `run.threadSweep`.
 */
export async function benchThreadSweep(context: BenchContext, model: ModelBench): Promise<void> {
    const { options, binaries, problems, log } = context;
    const { choice, path, plan, run } = model;
    const sweeps: ThreadSweepRun[] = [];
    run.threadSweep = sweeps;
    const sweep = async (engine: BenchEngineConfig): Promise<ThreadSweepRun> => {
        const result = await runThreadSweep({
            engine,
            modelId: choice.id,
            modelPath: path,
            plan,
            concurrencyLevels: options.sweepConcurrency,
            threadCounts: options.sweepThreads,
            contextSize: run.contextSize,
            parallel: Math.max(run.parallel, ...options.sweepConcurrency),
            log
        });
        sweeps.push(result);
        for (const point of result.points) {
            problems.push(...levelProblems(`thread sweep ${sweepLabel(result)} ${choice.id} threads ${point.threads ?? "default"}`, point.levels, plan));
        }
        return result;
    };
    const sweepEngines = options.engines.filter((engine) => engine === "node-llama-cpp" || binaries != null);
    for (const engine of sweepEngines) {
        try {
            const result = await sweep(engine === "llama-server" ? { type: "llama-server", path: binaries!.server } : { type: "node-llama-cpp" });
            if (engine === "node-llama-cpp" && result.build === "local") await sweep({ type: "node-llama-cpp", build: "prebuilt" });
        } catch (error) {
            problems.push(`thread sweep of ${choice.id} on ${engine} failed: ${error instanceof Error ? error.message : String(error)}`);
            log(problems[problems.length - 1]!);
        }
    }
}
