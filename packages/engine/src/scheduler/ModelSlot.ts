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

    constructor(public definition: ModelDefinition) {}
}
