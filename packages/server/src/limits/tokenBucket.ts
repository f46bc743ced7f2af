import type { KeyLimits } from "./KeyLimits.js";
import type { RateDecision } from "./RateDecision.js";

/** A bucket as stored: fractional tokens at an instant. A missing bucket is a full one. */
export interface BucketState {
    tokens: number;
    updatedMs: number;
}

/**
 * Float sums of refills (0.1 + 0.2 ...) can land a hair below a whole token at the very instant
 * the Retry-After we announced expires; this tolerance keeps that promise. The Redis script uses
 * the same value so every store answers alike.
 */
const EPSILON = 1e-9;

/**
 * One token-bucket step, pure so the memory and SQLite stores share it (the Redis Lua script is a
 * line-for-line port). The bucket refills continuously at `rps` up to `burst`; a request costs one
 * token. `cost` 0 only reads (for headers). A clock that steps backwards (another replica's time)
 * refills nothing rather than draining the bucket.
 */
export function takeFromBucket(
    state: BucketState | undefined,
    limits: Pick<KeyLimits, "rps" | "burst">,
    nowMs: number,
    cost: 0 | 1
): { state: BucketState; decision: RateDecision } {
    const { rps, burst } = limits;
    let tokens = state?.tokens ?? burst;
    let updatedMs = state?.updatedMs ?? nowMs;
    if (nowMs > updatedMs) {
        tokens += ((nowMs - updatedMs) * rps) / 1000;
        updatedMs = nowMs;
    }
    tokens = Math.min(tokens, burst);
    // A peek answers "would a request be admitted now?", so both modes decide the same way.
    const allowed = tokens >= 1 - EPSILON;
    if (cost === 1 && allowed) tokens = Math.max(0, tokens - 1);
    return { state: { tokens, updatedMs }, decision: bucketDecision(tokens, limits, allowed) };
}

/** Builds the header-ready decision from the tokens left. Shared with the Redis store. */
export function bucketDecision(tokens: number, limits: Pick<KeyLimits, "rps" | "burst">, allowed: boolean): RateDecision {
    const { rps, burst } = limits;
    return {
        allowed,
        limit: burst,
        rps,
        remaining: Math.max(0, Math.floor(tokens + EPSILON)),
        resetSeconds: Math.max(0, Math.ceil((burst - tokens) / rps - EPSILON)),
        retryAfterSeconds: allowed ? null : Math.max(1, Math.ceil((1 - tokens) / rps - EPSILON))
    };
}
