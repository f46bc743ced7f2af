import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { epochDayToUtcDay, parseUtcDay, secondsUntilUtcMidnight, utcDay, utcEpochDay } from "../../src/limits/utcDay.js";

describe("UTC days", () => {
    it("turns at 00:00 UTC whatever the local time zone", () => {
        assert.equal(utcDay(Date.UTC(2030, 0, 1) - 1), "2029-12-31");
        assert.equal(utcDay(Date.UTC(2030, 0, 1)), "2030-01-01");
        assert.equal(epochDayToUtcDay(utcEpochDay(Date.UTC(2030, 0, 1, 13))), "2030-01-01");
    });

    it("counts seconds to midnight rounded up, a full day at midnight itself", () => {
        assert.equal(secondsUntilUtcMidnight(Date.UTC(2030, 0, 1, 23, 59, 59, 1)), 1);
        assert.equal(secondsUntilUtcMidnight(Date.UTC(2030, 0, 1, 23, 59, 58, 999)), 2);
        assert.equal(secondsUntilUtcMidnight(Date.UTC(2030, 0, 2)), 86_400);
    });

    it("parses only real calendar days", () => {
        assert.equal(parseUtcDay("2024-02-29"), utcEpochDay(Date.UTC(2024, 1, 29)));
        for (const bad of ["2023-02-29", "2024-13-01", "2024-1-1", "today", "2024-01-01T00:00:00Z"]) assert.equal(parseUtcDay(bad), null, bad);
    });
});
