import os from "node:os";

/**
 * The decode thread count used when a model sets none.
 *
 * Measured on 2-core machines (see DEVELOPERS.md): the prebuilt llama.cpp binaries have no OpenMP,
 * so their worker threads spin against Node's own thread and every thread added past
 * `cores - 1` slows decoding (stories260K: ~800 tok/s at 1 thread, ~100 at 2, 1.8 at 4). So the
 * default leaves one core to Node's event loop, which also runs HTTP and sampling glue. A local
 * OpenMP build scales with threads, so it gets every core.
 */
export function defaultThreads(build: "prebuilt" | "local", cores: number = os.availableParallelism()): number {
    if (build === "local") return Math.max(1, cores);
    return Math.max(1, cores - 1);
}
