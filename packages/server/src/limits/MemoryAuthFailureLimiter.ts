import {
    authFailureBucket,
    authFailureDecision,
    type AuthFailureDecision,
    type AuthFailureLimiter,
    type AuthFailureLimiterOptions,
    type AuthFailureStats
} from "./AuthFailureLimiter.js";
import { clientAddressKey } from "./clientAddressKey.js";
import { takeFromBucket, type BucketState } from "./tokenBucket.js";

export interface MemoryAuthFailureLimiterOptions extends AuthFailureLimiterOptions {
    /**
     * Addresses tracked at most; past it the least recently failing are forgotten, so a flood
     * from many addresses cannot grow memory without bound. Defaults to `100000`.
     */
    maxTrackedAddresses?: number;
}

/** {@link AuthFailureLimiter} for one process. Synchronous inside, so concurrent failures count exactly. */
export class MemoryAuthFailureLimiter implements AuthFailureLimiter {
    readonly #bucket: { burst: number; rps: number };
    readonly #clock: () => number;
    readonly #maxTracked: number;
    /** In order of last failure (re-inserted on update), so the first entry is the stalest. */
    readonly #buckets = new Map<string, BucketState>();
    #failuresTotal = 0;
    #blockedTotal = 0;

    constructor(options: MemoryAuthFailureLimiterOptions = {}) {
        this.#bucket = authFailureBucket(options);
        this.#clock = options.clock ?? Date.now;
        this.#maxTracked = options.maxTrackedAddresses ?? 100_000;
    }

    async check(address: string, now?: number): Promise<AuthFailureDecision> {
        const key = clientAddressKey(address);
        const { decision } = takeFromBucket(this.#buckets.get(key), this.#bucket, now ?? this.#clock(), 0);
        if (!decision.allowed) this.#blockedTotal++;
        return authFailureDecision(decision);
    }

    async recordFailure(address: string, now?: number): Promise<AuthFailureDecision> {
        const key = clientAddressKey(address);
        const at = now ?? this.#clock();
        this.#failuresTotal++;
        const { state } = takeFromBucket(this.#buckets.get(key), this.#bucket, at, 1);
        this.#buckets.delete(key);
        this.#buckets.set(key, state);
        this.#evict(at);
        return authFailureDecision(takeFromBucket(state, this.#bucket, at, 0).decision);
    }

    stats(): AuthFailureStats {
        return { failuresTotal: this.#failuresTotal, blockedTotal: this.#blockedTotal };
    }

    /** Addresses currently tracked. */
    get trackedAddresses(): number {
        return this.#buckets.size;
    }

    async dispose(): Promise<void> {
        this.#buckets.clear();
    }

    /** Forgets buckets that have refilled (same as absent) from the stale end, and any beyond the cap. */
    #evict(nowMs: number): void {
        for (const [key, state] of this.#buckets) {
            const refilled = state.tokens + ((nowMs - state.updatedMs) * this.#bucket.rps) / 1000 >= this.#bucket.burst;
            if (!refilled && this.#buckets.size <= this.#maxTracked) break;
            this.#buckets.delete(key);
        }
    }
}
