import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dailyQuotaError, rateLimitError } from "../../src/limits/limitErrors.js";
import { isStoreUnavailable, storeUnavailableError } from "../../src/storage/storeUnavailableError.js";

describe("limit errors", () => {
    it("a rate refusal becomes 429 rate_limit_exceeded with its real Retry-After", () => {
        const error = rateLimitError({ allowed: false, limit: 20, rps: 10, remaining: 0, resetSeconds: 2, retryAfterSeconds: 1 });
        assert.deepEqual(error.toBody(), {
            error: {
                code: "rate_limit_exceeded",
                message: "Rate limit exceeded for this API key: 20 requests burst, 10 per second. Retry after 1 s.",
                type: "rate_limit_error",
                param: null
            }
        });
        assert.equal(error.status, 429);
        assert.equal(error.retryAfter, 1);
    });

    it("a quota refusal becomes 429 daily_quota_exceeded, retrying at 00:00 UTC", () => {
        const error = dailyQuotaError({
            allowed: false,
            limit: 1000,
            used: 1000,
            remaining: 0,
            resetSeconds: 3600,
            retryAfterSeconds: 3600,
            day: "2030-06-15",
            counted: false
        });
        assert.equal(error.message, "Daily quota of 1000 requests exceeded for this API key. It resets at 00:00 UTC, in 3600 s.");
        assert.deepEqual([error.code, error.status, error.retryAfter], ["daily_quota_exceeded", 429, 3600]);
    });

    it("a backend failure becomes 503 limits_unavailable, keeping the driver error as the cause only", () => {
        const cause = new Error("connect ECONNREFUSED 127.0.0.1:6379");
        const error = storeUnavailableError("Redis", cause);
        assert.equal(error.message, "The rate-limit store is unavailable: Redis did not answer. Retry shortly.");
        assert.deepEqual([error.code, error.status, error.retryAfter, error.cause], ["limits_unavailable", 503, 1, cause]);
        assert.equal(isStoreUnavailable(error), true);
        assert.equal(isStoreUnavailable(cause), false);
    });
});
