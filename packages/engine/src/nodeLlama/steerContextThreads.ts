import type { LlamaContext } from "node-llama-cpp";

/** The part of node-llama-cpp 3.21.1's context internals this file relies on. */
interface ThreadConsumer {
    _wantedThreads: number;
}

/**
 * Sets the threads the next batch of `context` decodes with. node-llama-cpp has no public way to
 * change a context's threads after creation, but with `maxThreads: 0` it applies its thread
 * consumer's `_wantedThreads` (`llama_set_n_threads`) right before every decode, after the batch
 * prioritization hook has run. Setting that field from the hook steers each batch.
 *
 * node-llama-cpp is pinned to an exact version; if an upgrade moves the field this returns
 * `false` and the context keeps the threads it was created with (still correct, only slower).
 */
export function steerContextThreads(context: LlamaContext, threads: number): boolean {
    const consumer = (context as unknown as { _threadSplitterConsumer?: Partial<ThreadConsumer> })._threadSplitterConsumer;
    if (consumer === undefined || typeof consumer._wantedThreads !== "number") return false;
    consumer._wantedThreads = threads;
    return true;
}
