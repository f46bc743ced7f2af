/**
 * The outcome of one token-bucket check, with everything the `X-RateLimit-*` headers need.
 * A refusal is a normal outcome, not an error: the caller turns it into a 429 with
 * {@link rateLimitError}.
 */
export interface RateDecision {
    allowed: boolean;
    /** Bucket capacity (`X-RateLimit-Limit`); `null` when no rate limit applied (unlimited key, or a fail-open admission). */
    limit: number | null;
    /** Sustained tokens per second; `null` with `limit`. */
    rps: number | null;
    /** Whole tokens left after this request (`X-RateLimit-Remaining`); `null` with `limit`. */
    remaining: number | null;
    /** Seconds until the bucket is full again, rounded up (`X-RateLimit-Reset`). */
    resetSeconds: number;
    /** When refused: the real wait until one token is available, in whole seconds rounded up (`Retry-After`). */
    retryAfterSeconds: number | null;
    /** True when the store was unreachable and `failOpen` admitted the request unchecked. */
    degraded?: boolean;
}

/** The decision for a key that no rate limit applies to. */
export function unlimitedRateDecision(degraded = false): RateDecision {
    const decision: RateDecision = { allowed: true, limit: null, rps: null, remaining: null, resetSeconds: 0, retryAfterSeconds: null };
    if (degraded) decision.degraded = true;
    return decision;
}
