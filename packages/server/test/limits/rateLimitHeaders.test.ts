import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DailyDecision } from "../../src/limits/DailyDecision.js";
import { unlimitedRateDecision, type RateDecision } from "../../src/limits/RateDecision.js";
import { rateLimitHeaders } from "../../src/limits/rateLimitHeaders.js";

const admitted: RateDecision = { allowed: true, limit: 20, rps: 10, remaining: 14, resetSeconds: 1, retryAfterSeconds: null };
const refused: RateDecision = { allowed: false, limit: 20, rps: 10, remaining: 0, resetSeconds: 2, retryAfterSeconds: 1 };
const day: DailyDecision = {
    allowed: true,
    limit: 1000,
    used: 10,
    remaining: 990,
    resetSeconds: 43_200,
    retryAfterSeconds: null,
    day: "2030-06-15",
    counted: true
};

describe("rateLimitHeaders", () => {
    it("sets the rate and daily headers of an admitted inference request", () => {
        assert.deepEqual(rateLimitHeaders(admitted, day), {
            "x-ratelimit-limit": "20",
            "x-ratelimit-remaining": "14",
            "x-ratelimit-reset": "1",
            "x-ratelimit-limit-day": "1000",
            "x-ratelimit-remaining-day": "990",
            "x-ratelimit-reset-day": "43200"
        });
    });

    it("adds Retry-After on a rate refusal, and only the rate headers without a daily decision", () => {
        assert.deepEqual(rateLimitHeaders(refused), {
            "x-ratelimit-limit": "20",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": "2",
            "retry-after": "1"
        });
    });

    it("sends the daily reset as Retry-After when the quota refused", () => {
        const over = { ...day, allowed: false, used: 1000, remaining: 0, retryAfterSeconds: 43_200, counted: false };
        assert.equal(rateLimitHeaders(admitted, over)["retry-after"], "43200");
        assert.equal(rateLimitHeaders(admitted, over)["x-ratelimit-remaining-day"], "0");
    });

    it("advertises nothing for unlimited keys, keys without a quota, or fail-open admissions", () => {
        const noQuota = { ...day, limit: null, remaining: null };
        assert.deepEqual(rateLimitHeaders(unlimitedRateDecision(), noQuota), {});
        assert.deepEqual(rateLimitHeaders(unlimitedRateDecision(true), null), {});
        assert.deepEqual(rateLimitHeaders(null, null), {});
    });

    it("adds the IETF draft fields only when asked", () => {
        assert.equal(rateLimitHeaders(admitted, day)["ratelimit"], undefined);
        const headers = rateLimitHeaders(refused, day, { ietfDraft: true });
        assert.equal(headers["ratelimit-policy"], '"burst";q=20;w=2, "daily";q=1000;w=86400');
        assert.equal(headers["ratelimit"], '"burst";r=0;t=1, "daily";r=990;t=43200');
    });
});
