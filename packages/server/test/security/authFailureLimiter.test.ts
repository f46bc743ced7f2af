import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeEngine } from "@quandex/engine/testing";
import { auth, createHarness } from "../support/harness.js";

/**
 * The audit's "failed-auth limiting locks out good keys": the per-address failure limiter ran
 * before the key was checked, so a flood of bad keys from one address (or from every user behind a
 * reverse proxy without `trust_proxy`) made every valid key from it, admin included, get 429.
 */
describe("the failed-authentication limiter never refuses a valid key", () => {
    it("a flood of bad keys from one address: a good key from the same address keeps getting 200, the bad ones 429", async () => {
        const h = await createHarness({ engine: new FakeEngine(), authFailuresPerMinute: 5 });
        try {
            const address = "10.0.0.9";
            const statuses: number[] = [];
            for (let i = 0; i < 50; i++) {
                const bad = await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(`qdx_guess${i}`), remoteAddress: address });
                statuses.push(bad.statusCode);
                const good = await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(h.keys.read), remoteAddress: address });
                assert.equal(good.statusCode, 200, `good key refused after ${i + 1} bad ones: ${good.body}`);
                const admin = await h.app.inject({ method: "GET", url: "/v1/admin/keys", headers: auth(h.keys.admin), remoteAddress: address });
                assert.equal(admin.statusCode, 200);
            }
            assert.deepEqual(statuses, [...Array(5).fill(401), ...Array(45).fill(429)], "the bad keys are still limited");
            const stats = (await h.app.inject({ method: "GET", url: "/v1/stats", headers: auth(h.keys.read), remoteAddress: address })).json() as {
                server: { auth_failures_total: number; auth_blocked_total: number };
            };
            assert.equal(stats.server.auth_blocked_total, 45, "only refused failures are counted as blocked");
            assert.equal(stats.server.auth_failures_total, 5, "a blocked attempt is not counted again as a failure");
        } finally {
            await h.close();
        }
    });

    it("successes are not counted: many good requests then bad ones still get the full burst of 401s", async () => {
        const h = await createHarness({ engine: new FakeEngine(), authFailuresPerMinute: 3 });
        try {
            for (let i = 0; i < 20; i++)
                assert.equal((await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(h.keys.read), remoteAddress: "10.0.0.7" })).statusCode, 200);
            const statuses = [];
            for (let i = 0; i < 4; i++) statuses.push((await h.app.inject({ method: "GET", url: "/v1/models", headers: auth("qdx_nope"), remoteAddress: "10.0.0.7" })).statusCode);
            assert.deepEqual(statuses, [401, 401, 401, 429]);
            const malformed = await h.app.inject({ method: "GET", url: "/v1/models", headers: { authorization: "Basic abc" }, remoteAddress: "10.0.0.7" });
            assert.equal(malformed.statusCode, 429, "a malformed header from a blocked address is a failure too");
        } finally {
            await h.close();
        }
    });
});
