import type { KeyLimits } from "./KeyLimits.js";
import { secondsUntilUtcMidnight, utcDay } from "./utcDay.js";

/**
 * The outcome of one daily-quota admission (or peek), with everything the `X-RateLimit-*-Day`
 * headers need. A refusal is a normal outcome: the caller turns it into a 429 with
 * {@link dailyQuotaError}.
 */
export interface DailyDecision {
    allowed: boolean;
    /** Requests allowed per UTC day (`X-RateLimit-Limit-Day`); `null` when no quota applies. */
    limit: number | null;
    /** Requests counted for the key today, this one included when it was admitted. */
    used: number;
    /** Requests left today (`X-RateLimit-Remaining-Day`); `null` with `limit`. */
    remaining: number | null;
    /** Seconds until 00:00 UTC, rounded up (`X-RateLimit-Reset-Day`). */
    resetSeconds: number;
    /** When refused: seconds until the quota resets (`Retry-After`). */
    retryAfterSeconds: number | null;
    /** The UTC day (`YYYY-MM-DD`) the request was counted in; hand it to `refundDaily`. */
    day: string;
    /** Whether this call incremented the day's count (and so may be refunded). */
    counted: boolean;
    /** True when the store was unreachable and `failOpen` admitted the request uncounted. */
    degraded?: boolean;
}

/**
 * Builds a decision from the day's count. Unlimited keys and keys without a quota are always
 * admitted but still counted, so usage shows their traffic.
 */
export function dailyDecision(limits: Readonly<KeyLimits>, used: number, counted: boolean, nowMs: number): DailyDecision {
    const limit = limits.unlimited ? null : limits.daily;
    const resetSeconds = secondsUntilUtcMidnight(nowMs);
    // An admission counted the request already; a peek asks whether one more would fit.
    const allowed = limit === null || (counted ? used <= limit : used < limit);
    return {
        allowed,
        limit,
        used,
        remaining: limit === null ? null : Math.max(0, limit - used),
        resetSeconds,
        retryAfterSeconds: allowed ? null : resetSeconds,
        day: utcDay(nowMs),
        counted
    };
}
