import { setTimeout as sleep } from "node:timers/promises";
import type { ModelPull, PullState } from "@quandex/engine";

/**
 * A pull's states as they change: the state now, then one per change (at most one every 250 ms
 * while downloading), ending with `ready` or `error`. Leaving the loop leaves the pull running.
 * Both pull streams (Quandex's SSE and Ollama's NDJSON) read it.
 */
export async function* pullUpdates(pull: ModelPull): AsyncGenerator<PullState> {
    let latest = pull.snapshot();
    let wake: (() => void) | undefined;
    const unsubscribe = pull.subscribe((state) => {
        latest = state;
        wake?.();
    });
    try {
        for (;;) {
            const state = latest;
            yield state;
            if (state.status === "ready" || state.status === "error") return;
            if (state.status === "downloading") await sleep(250);
            if (latest === state) await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
        }
    } finally {
        unsubscribe();
    }
}
