import type { LlamaContext } from "node-llama-cpp";

/** The part of node-llama-cpp 3.21.1's context internals this file relies on. */
interface ThreadConsumer {
    _wantedThreads: number;
}

/**
 * Sets the threads the next batch of `context` decodes with.
 *
 * One of the two reads of node-llama-cpp's private fields (the other is `noEosBias.ts`), because a public API is missing:
 * node-llama-cpp 3.21.1 exposes a context's threads only read-only (`LlamaContext.currentThreads`,
 * `LlamaContext.idealThreads`) and takes them only at creation (`createContext({threads})`). With
 * `maxThreads: 0` it applies its thread consumer's `_wantedThreads` (`llama_set_n_threads`) right
 * before every decode, after the batch prioritization hook has run, so setting that field from
 * the hook steers each batch.
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
