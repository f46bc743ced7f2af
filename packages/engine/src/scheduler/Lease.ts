import type { ModelRunner } from "../Engine.js";

/** A claim on one sequence of a loaded model. Release it in `finally`; releasing twice is harmless. */
export interface Lease {
    readonly runner: ModelRunner;
    /** Milliseconds spent waiting in the queue for this sequence. */
    readonly queuedMs: number;
    release(): void;
}
