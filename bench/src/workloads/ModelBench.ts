import { stat } from "node:fs/promises";
import type { ModelChoice } from "../modelChoices.js";
import type { BenchOptions } from "../parseBenchArgs.js";
import type { ModelRun } from "../RunResult.js";
import type { LoadPlan } from "../runLoad.js";

/** One model's part of the run; each workload fills its section of `run` as it measures. */
export type ModelBench = {
    choice: ModelChoice;
    /** The model file (a synthetic one is written by `prepareModelBench`). */
    path: string;
    plan: LoadPlan;
    run: ModelRun;
};

const smokePlan = { maxTokens: 8, requestsPerSlot: 1, minRequests: 2, warmupRequests: 1 };

/** Resolves a model's plan from its choice and the flags, and writes the model file when it is synthetic. */
export async function prepareModelBench(choice: ModelChoice, options: BenchOptions): Promise<ModelBench> {
    const plan: LoadPlan = {
        ...(options.smoke ? smokePlan : choice.plan),
        ...(options.maxTokens !== null && { maxTokens: options.maxTokens }),
        ...(options.warmupRequests !== null && { warmupRequests: options.warmupRequests }),
        concurrencyLevels: options.concurrencyLevels,
        requestRate: options.requestRate,
        rounds: options.rounds
    };
    const path = await choice.path();
    const run: ModelRun = {
        key: choice.key,
        id: choice.id,
        path,
        description: choice.description,
        fileBytes: (await stat(path)).size,
        plan,
        threads: options.threads,
        contextSize: options.contextSize,
        parallel: Math.max(...options.concurrencyLevels),
        server: null,
        baseline: null
    };
    return { choice, path, plan, run };
}
