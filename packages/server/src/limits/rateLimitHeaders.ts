import type { DailyDecision } from "./DailyDecision.js";
import type { RateDecision } from "./RateDecision.js";

export interface RateLimitHeaderOptions {
    /**
     * Also emit the IETF draft `RateLimit-Policy` and `RateLimit` fields
     * (draft-ietf-httpapi-ratelimit-headers, structured-field syntax of draft -08 and later).
     * See README.md for why they are off by default. Defaults to `false`.
     */
    ietfDraft?: boolean;
}

/**
 * The response headers for a request's limit decisions, as a plain map the lead sets on the reply
 * (on success and on the 429 alike). Either decision may be absent: non-inference routes have no
 * daily decision. A decision with `limit: null` (unlimited key, no quota, fail-open) adds nothing,
 * rather than advertising a fake limit. `Retry-After` is added when a decision refused.
 */
export function rateLimitHeaders(
    rate: Readonly<RateDecision> | null | undefined,
    daily?: Readonly<DailyDecision> | null,
    options: RateLimitHeaderOptions = {}
): Record<string, string> {
    // Lower-case names: Fastify lower-cases every name it is given, on every authenticated request.
    const headers: Record<string, string> = {};
    const hasRate = rate != null && rate.limit !== null && rate.remaining !== null && rate.rps !== null;
    const hasDaily = daily != null && daily.limit !== null && daily.remaining !== null;
    if (hasRate) {
        headers["x-ratelimit-limit"] = String(rate.limit);
        headers["x-ratelimit-remaining"] = String(rate.remaining);
        headers["x-ratelimit-reset"] = String(rate.resetSeconds);
    }
    if (hasDaily) {
        headers["x-ratelimit-limit-day"] = String(daily.limit);
        headers["x-ratelimit-remaining-day"] = String(daily.remaining);
        headers["x-ratelimit-reset-day"] = String(daily.resetSeconds);
    }
    const retryAfter = Math.max(rate && !rate.allowed ? (rate.retryAfterSeconds ?? 0) : 0, daily && !daily.allowed ? (daily.retryAfterSeconds ?? 0) : 0);
    if (retryAfter > 0) headers["retry-after"] = String(retryAfter);
    if (options.ietfDraft && (hasRate || hasDaily)) {
        const policies: string[] = [];
        const states: string[] = [];
        if (hasRate) {
            // The draft models windows; a bucket of `limit` refilled at `rps` is closest to `limit`
            // requests per the time a full refill takes. On a refusal `t` is the real wait.
            policies.push(`"burst";q=${rate.limit};w=${Math.max(1, Math.ceil(rate.limit! / rate.rps!))}`);
            states.push(`"burst";r=${rate.remaining};t=${rate.allowed ? rate.resetSeconds : (rate.retryAfterSeconds ?? rate.resetSeconds)}`);
        }
        if (hasDaily) {
            policies.push(`"daily";q=${daily.limit};w=86400`);
            states.push(`"daily";r=${daily.remaining};t=${daily.resetSeconds}`);
        }
        headers["ratelimit-policy"] = policies.join(", ");
        headers["ratelimit"] = states.join(", ");
    }
    return headers;
}
