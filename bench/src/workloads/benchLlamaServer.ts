import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LlamaServerBinaries } from "../llamaServer/findLlamaServer.js";
import { runLlamaServerLegs, type LlamaServerRun } from "../llamaServer/llamaServerLegs.js";
import type { BenchContext } from "./BenchContext.js";
import { levelProblems } from "./levelProblems.js";
import type { ModelBench } from "./ModelBench.js";

/**
 * The llama-server legs (issue #8): Quandex on its llama-server engine and the same llama-server
 * called directly, level by level, then llama-batched-bench at B = 1 and 8 (smoke: 1 and 2) on the
 * same binary. Fills `run.llamaServer` as it goes, so a failure keeps what was measured.
 */
export async function benchLlamaServer(context: BenchContext, model: ModelBench, binaries: LlamaServerBinaries): Promise<void> {
    const { options, problems, log } = context;
    const { choice, path, plan, run } = model;
    const lsRun: LlamaServerRun = { binary: binaries.server, threads: options.llamaServerThreads ?? 0, quandex: null, direct: null, batchedBench: null, notes: [] };
    run.llamaServer = lsRun;
    const lsDir = await mkdtemp(join(tmpdir(), `quandex-bench-ls-${choice.key}-`));
    try {
        await runLlamaServerLegs(
            {
                binaries,
                modelId: choice.id,
                modelPath: path,
                plan,
                threads: options.llamaServerThreads,
                contextSize: run.contextSize,
                parallel: run.parallel,
                workDir: lsDir,
                batchedBenchParallel: options.smoke ? [1, 2] : [1, 8],
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
