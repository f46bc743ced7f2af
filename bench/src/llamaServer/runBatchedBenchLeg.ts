import { runBatchedBench } from "./batchedBench.js";
import type { LlamaServerBinaries } from "./findLlamaServer.js";
import type { LlamaServerRun } from "./llamaServerLegs.js";

export type BatchedBenchLegOptions = {
    binaries: LlamaServerBinaries;
    modelPath: string;
    /** The threads the llama-server legs ran with, so the bound is for the same work. */
    threads: number;
    /** Prompt tokens per sequence: the mean of what the levels sent. */
    promptTokens: number;
    generatedTokens: number;
    /** B values for llama-batched-bench; empty skips it. */
    parallel: number[];
    contextSize: number;
    log: (line: string) => void;
};

/**
 * llama-batched-bench at each B on the llama-server legs' binary: the decode-only bound the
 * server's aggregate throughput is judged against (issue #8). Fills `run.batchedBench`, or a note
 * in `run.notes` when the binary has no llama-batched-bench beside it.
 */
export async function runBatchedBenchLeg(options: BatchedBenchLegOptions, run: LlamaServerRun): Promise<void> {
    const { binaries, log } = options;
    if (options.parallel.length === 0) return;
    if (binaries.batchedBench == null) {
        run.notes.push(`llama-batched-bench is not beside ${binaries.server}; skipped`);
        log(run.notes[run.notes.length - 1]!);
        return;
    }
    run.batchedBench = await runBatchedBench({
        binary: binaries.batchedBench,
        modelPath: options.modelPath,
        threads: options.threads,
        promptTokens: options.promptTokens,
        generatedTokens: options.generatedTokens,
        parallel: options.parallel,
        contextSize: options.contextSize
    });
    for (const row of run.batchedBench.rows) {
        log(`llama-batched-bench B=${row.pl}: pp ${row.pp}, tg ${row.tg}: S_TG ${row.speedTg.toFixed(1)} tok/s, S_PP ${row.speedPp.toFixed(1)} tok/s`);
    }
}
