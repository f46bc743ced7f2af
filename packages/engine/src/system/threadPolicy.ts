import os from "node:os";

/**
 * Below this much work per batch (tokens in the batch × bytes of weights, a proxy for the
 * arithmetic of one step), a second in-process thread costs more in spin and wake-up than it adds.
 * Measured on a 2-core machine with node-llama-cpp 3.21.1 (BENCHMARKS.md, DEVELOPERS.md): the
 * 171 MB synthetic model decodes 1 token ~2× faster on 1 thread than on 2 with the prebuilt
 * binaries (and no slower on 1 with the local OpenMP build), 2 tokens (342 MB) still ~2.5× faster
 * on 1 prebuilt thread, and 8 tokens (1.4 GB) 1.3–1.5× faster on 2 with either build; the 1.2 MB
 * test model is fastest on 1 thread at every batch size.
 */
export const SECOND_THREAD_WORK = 800e6;

/** Below this file size an OpenMP llama-server is fastest on one thread: synchronisation outweighs the work. */
export const OPENMP_SMALL_MODEL_BYTES = 64 * 1024 * 1024;

/**
 * What `threads: auto` (a model config without `threads`) means in-process (node-llama-cpp, either
 * build): the most threads a batch may use, and how many a batch of `tokens` uses.
 *
 * The prebuilt binaries have no OpenMP: their threads spin against Node's own thread, so on 2 cores
 * a second thread makes a single-token step of a small model ~8× slower (stories260K: ~800 tok/s at
 * 1 thread, ~100 at 2), yet large batches of a larger model gain from it; the local OpenMP build
 * gains nothing from a second thread on single tokens either. So the count follows each batch's
 * work, from 1 up to every core but one (every core on a machine of 2 or fewer). A context keeps
 * the thread pool it was created with, and idle workers still spin (stories260K decodes at ~130
 * tok/s on 1 thread of a 2-thread pool), so a model whose largest batch (`maxBatchTokens`,
 * node-llama-cpp's default 512) never reaches the threshold gets a pool of one.
 */
export function perBatchThreads(modelBytes: number, cores: number = os.availableParallelism(), maxBatchTokens = 512): { max: number; forBatch(tokens: number): number } {
    const usable = cores <= 2 ? Math.max(1, cores) : cores - 1;
    const max = maxBatchTokens * modelBytes >= SECOND_THREAD_WORK ? usable : 1;
    return { max, forBatch: (tokens) => (tokens * modelBytes >= SECOND_THREAD_WORK ? max : 1) };
}

/**
 * What `threads: auto` means for a llama-server child, whose count is fixed at its start: every
 * core (its OpenMP build scales with threads: the 85M model serves 127 tok/s on 2 threads against
 * 98 on 1), except one thread for models so small that synchronisation dominates (stories260K:
 * ~3500 tok/s on 1 thread against ~2400 on 2).
 */
export function childProcessThreads(modelBytes: number, cores: number = os.availableParallelism()): number {
    return modelBytes < OPENMP_SMALL_MODEL_BYTES ? 1 : Math.max(1, cores);
}

/** The most threads `threads: auto` gives any model of an engine on this machine, for `/v1/stats`. */
export function maxAutoThreads(engine: "in-process" | "child-process", cores: number = os.availableParallelism()): number {
    return engine === "in-process" ? perBatchThreads(Number.MAX_SAFE_INTEGER, cores).max : childProcessThreads(Number.MAX_SAFE_INTEGER, cores);
}
