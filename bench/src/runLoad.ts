import { setTimeout as sleep } from "node:timers/promises";
import { SeededRandom } from "@quandex/test-support";
import type { RequestRecord } from "./metrics.js";

export type LoadOptions = {
    /** Most requests in flight at once. */
    concurrency: number;
    /** Requests to send in all. */
    requests: number;
    /**
     * Poisson arrival rate in requests/s (exponential gaps, as vLLM's `--request-rate`); arrivals still
     * wait for a free slot. `null` or `Infinity` sends them all at once. Defaults to `null`.
     */
    requestRate?: number | null;
    /** Seed of the arrival schedule. Defaults to 0. */
    seed?: number;
};

/**
 * Sends `requests` requests through `send`, at most `concurrency` at a time. `slot` (0..concurrency-1)
 * is free for the caller's exclusive use during the call; the in-process baseline maps it to a
 * context sequence. `send` must not throw: it reports failure in `RequestRecord.error`.
 */
export async function runLoad(
    { concurrency, requests, requestRate = null, seed = 0 }: LoadOptions,
    send: (index: number, slot: number) => Promise<RequestRecord>
): Promise<RequestRecord[]> {
    const records: RequestRecord[] = new Array(requests);
    const freeSlots = Array.from({ length: concurrency }, (_, slot) => concurrency - 1 - slot);
    const slotWaiters: Array<(slot: number) => void> = [];
    const acquire = (): Promise<number> => {
        const slot = freeSlots.pop();
        return slot != null ? Promise.resolve(slot) : new Promise((resolve) => slotWaiters.push(resolve));
    };
    const release = (slot: number): void => {
        const waiter = slotWaiters.shift();
        if (waiter != null) waiter(slot);
        else freeSlots.push(slot);
    };

    const random = new SeededRandom(seed);
    const paced = requestRate != null && Number.isFinite(requestRate) && requestRate > 0;
    const started = performance.now();
    let nextArrival = 0;
    const inFlight: Promise<void>[] = [];
    for (let index = 0; index < requests; index++) {
        if (paced) {
            nextArrival += random.nextExponential(requestRate) * 1000;
            const wait = started + nextArrival - performance.now();
            if (wait > 0) await sleep(wait);
        }
        const slot = await acquire();
        inFlight.push(
            send(index, slot).then((record) => {
                records[index] = record;
                release(slot);
            })
        );
    }
    await Promise.all(inFlight);
    return records;
}

/** What a benchmark run sends at each level; the HTTP driver and the baseline share it. */
export type LoadPlan = {
    concurrencyLevels: number[];
    /** Tokens per request; with ignore_eos every request generates exactly this many. */
    maxTokens: number;
    /** Requests per level are `max(minRequests, concurrency * requestsPerSlot)`. */
    requestsPerSlot: number;
    minRequests: number;
    /** See `LoadOptions.requestRate`. */
    requestRate: number | null;
    /**
     * Unscored requests (full max_tokens, one at a time, prompts in turn) each side sends before its
     * first level, so the first level does not measure a cold JIT. Defaults to {@link defaultWarmupRequests}.
     */
    warmupRequests?: number;
    /**
     * Times each level runs, alternating with the side it is compared with (server, baseline,
     * server, ...), merged into one figure per side (see `mergeRounds`). Defaults to 1.
     */
    rounds?: number;
};

export const defaultWarmupRequests = 4;

/** Sends the plan's warm-up requests one at a time; throws on the first failure. */
export async function warmUp(plan: LoadPlan, send: (index: number, maxTokens: number) => Promise<RequestRecord>, what: string): Promise<void> {
    const requests = Math.max(1, plan.warmupRequests ?? defaultWarmupRequests);
    for (let index = 0; index < requests; index++) {
        const record = await send(index, plan.maxTokens);
        if (record.error != null) throw new Error(`${what} warm-up request failed: ${record.error}`);
    }
}

export function requestsAtLevel(plan: LoadPlan, concurrency: number): number {
    return Math.max(plan.minRequests, concurrency * plan.requestsPerSlot);
}
