import { LocalLimitStore, type LocalLimitStoreOptions } from "./LocalLimitStore.js";
import type { KeyLimits } from "./KeyLimits.js";
import type { RateDecision } from "./RateDecision.js";
import { takeFromBucket, type BucketState } from "./tokenBucket.js";

export interface MemoryLimitStoreOptions extends LocalLimitStoreOptions {
    /**
     * How often (by the store's clock) buckets that have refilled completely are forgotten; a full
     * bucket is the same as a missing one, so this only bounds memory. Defaults to `60000`.
     */
    sweepIntervalMs?: number;
}

interface MemoryBucket extends BucketState {
    /** When this bucket will be full again and can be forgotten. */
    fullAtMs: number;
}

/**
 * The embedded store for one server process: rate buckets in memory, daily counts and usage in
 * the server's SQLite database. The bucket step is synchronous, so concurrent requests in this
 * process are serialised by the event loop and the burst is exact. Buckets do not survive a
 * restart (a restart refills them, which is harmless); the daily count does.
 *
 * Several processes sharing one data dir must use {@link SqliteLimitStore}: each process here
 * would hand out its own burst.
 */
export class MemoryLimitStore extends LocalLimitStore {
    readonly #buckets = new Map<string, MemoryBucket>();
    readonly #sweepIntervalMs: number;
    #lastSweepMs: number;

    constructor(options: MemoryLimitStoreOptions) {
        super(options);
        this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
        this.#lastSweepMs = this.clock();
    }

    /** How many buckets are held; for stats and the memory-bound test. */
    get bucketCount(): number {
        return this.#buckets.size;
    }

    protected override takeRate(keyId: string, limits: Readonly<KeyLimits>, nowMs: number, cost: 0 | 1): RateDecision {
        this.#sweep(nowMs);
        const { state, decision } = takeFromBucket(this.#buckets.get(keyId), limits, nowMs, cost);
        if (cost === 0) return decision;
        this.#buckets.set(keyId, { ...state, fullAtMs: state.updatedMs + ((limits.burst - state.tokens) * 1000) / limits.rps });
        return decision;
    }

    #sweep(nowMs: number): void {
        if (nowMs - this.#lastSweepMs < this.#sweepIntervalMs) return;
        this.#lastSweepMs = nowMs;
        for (const [keyId, bucket] of this.#buckets) if (bucket.fullAtMs <= nowMs) this.#buckets.delete(keyId);
    }
}
