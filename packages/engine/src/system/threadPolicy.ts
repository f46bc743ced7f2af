import os from "node:os";

/** Which llama.cpp build decodes: node-llama-cpp's prebuilt binaries, or one compiled here with OpenMP. */
export type LlamaBuild = "prebuilt" | "local";

/**
 * Below this much work per batch (tokens in the batch × bytes of weights, a proxy for the
 * arithmetic of one step), a second prebuilt thread costs more in spin and wake-up than it adds.
 * Measured on a 2-core machine with node-llama-cpp 3.21.1 prebuilt (BENCHMARKS.md, DEVELOPERS.md):
 * the 171 MB synthetic model decodes 1 token ~2× faster on 1 thread than on 2, 2 tokens (342 MB)
 * still ~2.5× faster on 1, and 8 tokens (1.4 GB) ~1.5× faster on 2; the 1.2 MB test model is
 * fastest on 1 thread at every batch size.
 */
export const PREBUILT_SECOND_THREAD_WORK = 800e6;

/** Below this file size an OpenMP build is fastest on one thread: synchronisation outweighs the work. */
export const OPENMP_SMALL_MODEL_BYTES = 64 * 1024 * 1024;

/**
 * What `threads: auto` (a model config without `threads`) means for one model: the most threads
 * a batch may use, and how many a batch of `tokens` uses.
 *
 * Prebuilt binaries have no OpenMP: their threads spin against Node's own thread, so on 2 cores a
 * second thread makes a single-token step of a small model ~8× slower (stories260K: ~800 tok/s at 1
 * thread, ~100 at 2), yet large batches of a larger model gain from it. So the count follows each
 * batch's work, from 1 up to every core but one (every core on a machine of 2 or fewer). A context
 * keeps the thread pool it was created with, and idle workers still spin (stories260K decodes at
 * ~130 tok/s on 1 thread of a 2-thread pool), so a model whose largest batch (`maxBatchTokens`,
 * node-llama-cpp's default 512) never reaches the threshold gets a pool of one. An OpenMP build
 * scales with threads, except on models so small that synchronisation dominates.
 */
export function autoThreads(
    build: LlamaBuild,
    modelBytes: number,
    cores: number = os.availableParallelism(),
    maxBatchTokens = 512
): { max: number; forBatch(tokens: number): number } {
    if (build === "local") {
        const max = modelBytes < OPENMP_SMALL_MODEL_BYTES ? 1 : Math.max(1, cores);
        return { max, forBatch: () => max };
    }
    const usable = cores <= 2 ? Math.max(1, cores) : cores - 1;
    const max = maxBatchTokens * modelBytes >= PREBUILT_SECOND_THREAD_WORK ? usable : 1;
    return { max, forBatch: (tokens) => (tokens * modelBytes >= PREBUILT_SECOND_THREAD_WORK ? max : 1) };
}

/** The most threads `threads: auto` gives any model on this machine, for `/v1/stats`. */
export function maxAutoThreads(build: LlamaBuild, cores: number = os.availableParallelism()): number {
    return autoThreads(build, Number.MAX_SAFE_INTEGER, cores).max;
}
