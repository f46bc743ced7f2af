import { QuandexError } from "@quandex/protocol";
import type { AuthFailureDecision } from "./AuthFailureLimiter.js";
import type { DailyDecision } from "./DailyDecision.js";
import type { RateDecision } from "./RateDecision.js";

/** The 429 `rate_limit_exceeded` for a refused {@link RateDecision}; `retryAfter` becomes `Retry-After`. */
export function rateLimitError(decision: Readonly<RateDecision>): QuandexError {
    const retryAfter = decision.retryAfterSeconds ?? 1;
    return new QuandexError("rate_limit_exceeded", { limit: decision.limit ?? "unlimited", rate: decision.rps ?? "unlimited", retry_after: retryAfter }, { retryAfter });
}

/** The 429 `daily_quota_exceeded` for a refused {@link DailyDecision}; retry when the UTC day turns. */
export function dailyQuotaError(decision: Readonly<DailyDecision>): QuandexError {
    const retryAfter = decision.retryAfterSeconds ?? decision.resetSeconds;
    return new QuandexError("daily_quota_exceeded", { limit: decision.limit ?? "unlimited", retry_after: retryAfter }, { retryAfter });
}

/** The 429 `auth_rate_limited` for a blocked client address. */
export function authRateLimitedError(decision: Readonly<AuthFailureDecision>): QuandexError {
    const retryAfter = decision.retryAfterSeconds ?? 1;
    return new QuandexError("auth_rate_limited", { retry_after: retryAfter }, { retryAfter });
}
