import type { RateDecision } from "./RateDecision.js";

/**
 * Slows down key guessing: failed authentications per client address drain a bucket of
 * `maxFailures` that refills over `windowMs`, so an address gets a burst of `maxFailures` 401s and
 * then one attempt per `windowMs / maxFailures` (2 s at the defaults).
 *
 * Use it in this order, for every request on an authenticated route:
 * 1. Verify the key. A valid key is let through without consulting the limiter: it must never be
 *    refused by it (one address may be a whole team behind a proxy).
 * 2. Only for a wrong or malformed key: `check(ip)`; if `blocked`, answer 429 `auth_rate_limited`,
 *    else `recordFailure(ip)` and answer 401.
 * Successful requests touch nothing.
 */
export interface AuthFailureLimiter {
    /** Whether the address may try to authenticate now. Counts a refusal in `stats().blockedTotal`. */
    check(address: string, now?: number): Promise<AuthFailureDecision>;
    /** Counts one failed authentication; the decision says whether the next attempt will be blocked. */
    recordFailure(address: string, now?: number): Promise<AuthFailureDecision>;
    /** Counters since this process started, for `/v1/stats`. */
    stats(): AuthFailureStats;
    dispose(): Promise<void>;
}

export interface AuthFailureDecision {
    blocked: boolean;
    /** Failures the address may still make before it is blocked. */
    remaining: number;
    /** When blocked: whole seconds until the next attempt is allowed (`Retry-After`). */
    retryAfterSeconds: number | null;
}

export interface AuthFailureStats {
    failuresTotal: number;
    blockedTotal: number;
}

export interface AuthFailureLimiterOptions {
    /**
     * Failed authentications an address may make in a burst. High enough that a test suite making
     * a handful of deliberate 401s never trips it. Defaults to `30`.
     */
    maxFailures?: number;
    /** Time for a blocked address to earn back all `maxFailures` attempts. Defaults to `60000`. */
    windowMs?: number;
    /** Milliseconds since the epoch; injected by tests. Defaults to `Date.now`. */
    clock?: () => number;
}

/** The bucket limits an {@link AuthFailureLimiterOptions} describes. */
export function authFailureBucket(options: AuthFailureLimiterOptions): { burst: number; rps: number } {
    const burst = options.maxFailures ?? 30;
    const windowMs = options.windowMs ?? 60_000;
    if (!(Number.isInteger(burst) && burst >= 1)) throw new RangeError(`maxFailures must be an integer >= 1, got ${burst}`);
    if (!(Number.isFinite(windowMs) && windowMs > 0)) throw new RangeError(`windowMs must be a positive number, got ${windowMs}`);
    return { burst, rps: (burst * 1000) / windowMs };
}

/** Reads a failure bucket's state as an auth decision; shared by the limiters. */
export function authFailureDecision(decision: Readonly<RateDecision>): AuthFailureDecision {
    return { blocked: !decision.allowed, remaining: decision.remaining ?? 0, retryAfterSeconds: decision.retryAfterSeconds };
}
