import type { ModelStatus } from "@quandex/protocol";
import type { ModelRunner } from "../Engine.js";
import type { ModelDefinition } from "../registry/ModelRegistry.js";

export interface Waiter {
    resolve(runner: ModelRunner): void;
    reject(error: unknown): void;
    signal: AbortSignal;
    timer: unknown;
    onAbort: () => void;
}

/** The scheduler's mutable record of one model. Only the scheduler touches it. */
export class ModelSlot {
    status: ModelStatus = "unloaded";
    runner: ModelRunner | undefined;
    error: string | null = null;
    /** File identity at the failed load, so a replaced file is retried. */
    errorFileStamp: string | null = null;
    loading: Promise<ModelRunner> | undefined;
    loadAbort: AbortController | undefined;
    active = 0;
    draining = false;
    readonly waiting: Waiter[] = [];
    /** Crash bookkeeping for runners that can die alone (see `Scheduler.onRunnerExit`). */
    readonly crash = { count: 0, loadedAt: 0, retryAt: 0, timer: undefined as unknown };
    /** What the engine estimated the model and its context take, for the memory budget; for the definition it was made for. */
    estimate: { definition: ModelDefinition; bytes: number } | undefined;
    /**
     * A load of this model has been granted its memory (it fit the budget) and counts in what is
     * committed from then on. Loads still waiting for room do not count, so two of them can never
     * wait for each other.
     */
    reserved = false;
    /**
     * Requests that were admitted for this model (`ensureReady`) and have not taken their sequence
     * yet, by expiry time: they count as busy, so the model they are about to use is not evicted
     * under them. An entry that is never taken (the request failed a later check) expires.
     */
    readonly pending: number[] = [];
    /** While a load waits for room: the detail a request that times out on it is told. */
    memoryWait: string | null = null;
    /** What a loaded model really holds, read once it is ready (its runner's `totalBytes`). */
    loadedBytes = 0;
    /** A runner of this model still freeing its memory (unloaded or evicted): the next load waits for it. */
    disposing: Promise<void> | undefined;
    /** Bytes the disposing runner still holds until it is gone. */
    disposingBytes = 0;
    /** Clock time of the last release that left the model idle; 0 before any use. */
    lastUsedAt = 0;
    /** Wall-clock time of the same, for the API. */
    lastUsedWall: number | null = null;
    /** The keep-alive now in force: the last request's, else the definition's, else the default. */
    keepAliveMs: number | null = null;
    /** Unloads the model when its keep-alive runs out while it is idle. */
    idleTimer: unknown;

    constructor(public definition: ModelDefinition) {}
}
