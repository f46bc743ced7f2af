import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_KEY_LIMITS, resolveKeyLimits } from "../../src/limits/KeyLimits.js";

describe("resolveKeyLimits", () => {
    it("uses the defaults (10/s, burst 20, 1000 a day) for a key without overrides", () => {
        assert.deepEqual(resolveKeyLimits(DEFAULT_KEY_LIMITS), { rps: 10, burst: 20, daily: 1000, unlimited: false });
        assert.deepEqual(resolveKeyLimits(DEFAULT_KEY_LIMITS, null), { rps: 10, burst: 20, daily: 1000, unlimited: false });
    });

    it("applies each override on its own; daily null means no quota", () => {
        assert.deepEqual(resolveKeyLimits(DEFAULT_KEY_LIMITS, { rps: 2 }), { rps: 2, burst: 20, daily: 1000, unlimited: false });
        assert.deepEqual(resolveKeyLimits(DEFAULT_KEY_LIMITS, { daily: null, burst: 5 }), { rps: 10, burst: 5, daily: null, unlimited: false });
        assert.deepEqual(resolveKeyLimits(DEFAULT_KEY_LIMITS, { daily: undefined, unlimited: true }), { rps: 10, burst: 20, daily: 1000, unlimited: true });
    });

    it("refuses values that would silently disable or break a limit", () => {
        for (const bad of [{ rps: 0 }, { rps: Number.NaN }, { rps: Infinity }, { burst: 0 }, { burst: 1.5 }, { daily: -1 }, { daily: 2.5 }]) {
            assert.throws(() => resolveKeyLimits(DEFAULT_KEY_LIMITS, bad), RangeError, JSON.stringify(bad));
        }
        assert.throws(() => resolveKeyLimits({ ...DEFAULT_KEY_LIMITS, burst: 0 }), /limits\.burst/);
    });
});
