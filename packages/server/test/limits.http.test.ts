import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeEngine } from "@quandex/engine/testing";
import { requireTestModel } from "@quandex/test-support";
import { auth, createHarness, type Harness } from "./support/harness.js";

const model = requireTestModel();
const json = { "content-type": "application/json" };

async function withHarness(options: Partial<Parameters<typeof createHarness>[0]>, run: (h: Harness) => Promise<void>): Promise<void> {
    const h = await createHarness({ engine: new FakeEngine(), files: { "m.gguf": model }, ...options });
    try {
        await run(h);
    } finally {
        await h.close();
    }
}

describe("per-key limits over HTTP", () => {
    it("a fresh key gets 20 at once, then 429 rate_limit_exceeded with an exact Retry-After and the headers", async () => {
        let now = Date.UTC(2026, 10, 25, 12, 0, 0);
        await withHarness({ clock: () => now }, async (h) => {
            const statuses: number[] = [];
            let last;
            for (let i = 0; i < 25; i++) {
                last = await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(h.keys.limited) });
                statuses.push(last.statusCode);
            }
            assert.deepEqual(statuses, [...Array(20).fill(200), ...Array(5).fill(429)]);
            const body = last!.json() as { error: { code: string; type: string } };
            assert.equal(body.error.code, "rate_limit_exceeded");
            assert.equal(body.error.type, "rate_limit_error");
            assert.equal(last!.headers["retry-after"], "1", "one token refills in 0.1 s; rounded up to 1 s");
            assert.equal(last!.headers["x-ratelimit-limit"], "20");
            assert.equal(last!.headers["x-ratelimit-remaining"], "0");
            assert.equal(last!.headers["x-ratelimit-limit-day"], "1000");
            assert.ok(Number(last!.headers["x-ratelimit-reset-day"]) > 0);
            now += 100;
            assert.equal((await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(h.keys.limited) })).statusCode, 200, "0.1 s later one token is back");
            assert.equal((await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(h.keys.limited) })).statusCode, 429);
            now += 2000;
            const ok = await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(h.keys.limited) });
            assert.equal(ok.statusCode, 200);
            assert.equal(ok.headers["x-ratelimit-remaining"], "19", "2 s refills the whole burst (20 at 10/s), minus this request");
        });
    });

    it("60 concurrent requests on the real clock admit 20 plus at most the refill during their spread", async () => {
        await withHarness({}, async (h) => {
            const url = await h.listen();
            const started = performance.now();
            const results = await Promise.all(Array.from({ length: 60 }, () => fetch(`${url}/v1/models`, { headers: auth(h.keys.limited) }).then((r) => r.status)));
            const spreadSeconds = (performance.now() - started) / 1000;
            const admitted = results.filter((s) => s === 200).length;
            assert.ok(admitted >= 20, `admitted ${admitted}`);
            assert.ok(admitted <= 20 + Math.ceil(spreadSeconds * 10), `admitted ${admitted} in ${spreadSeconds.toFixed(2)} s`);
            assert.equal(results.filter((s) => s !== 200 && s !== 429).length, 0);
        });
    });

    it("unlimited keys get no limit headers and are never refused", async () => {
        await withHarness({}, async (h) => {
            for (let i = 0; i < 30; i++) {
                const res = await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(h.keys.read) });
                assert.equal(res.statusCode, 200);
                assert.equal(res.headers["x-ratelimit-limit"], undefined);
            }
        });
    });

    it("the daily quota counts only admitted inference requests, answers 429 daily_quota_exceeded, and is never retried by refund tricks", async () => {
        await withHarness({ daily: 3 }, async (h) => {
            const gen = (body: object) => h.app.inject({ method: "POST", url: "/v1/generate", headers: { ...auth(h.keys.limited), ...json }, payload: body });
            assert.equal((await gen({ model: "m", prompt: "x", temperature: 5 })).statusCode, 400, "validation errors do not count");
            assert.equal((await gen({ model: "nope", prompt: "x" })).statusCode, 404, "unknown models do not count");
            assert.equal((await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(h.keys.limited) })).statusCode, 200, "reads do not count");
            for (let i = 0; i < 3; i++) {
                const res = await gen({ model: "m", prompt: "x", max_tokens: 2 });
                assert.equal(res.statusCode, 200);
                assert.equal(res.headers["x-ratelimit-remaining-day"], String(2 - i));
            }
            const refused = await gen({ model: "m", prompt: "x", max_tokens: 2 });
            assert.equal(refused.statusCode, 429);
            assert.equal((refused.json() as { error: { code: string } }).error.code, "daily_quota_exceeded");
            const wait = Number(refused.headers["retry-after"]);
            const untilMidnight = Math.ceil((Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 1) - Date.now()) / 1000);
            assert.ok(Math.abs(wait - untilMidnight) <= 2, `Retry-After ${wait} vs ${untilMidnight} s to 00:00 UTC`);
            const usage = (await h.app.inject({ method: "GET", url: "/v1/usage", headers: auth(h.keys.limited) })).json() as {
                data: Array<{ requests: number; completion_tokens: number; prompt_tokens: number }>;
            };
            assert.equal(usage.data[0]!.requests, 3);
            assert.equal(usage.data[0]!.completion_tokens, 6);
            assert.equal(usage.data[0]!.prompt_tokens, 6);
        });
    });

    it("a 503 from a full queue gives the daily count back", async () => {
        await withHarness({ daily: 5, maxQueue: 0 }, async (h) => {
            const definition = h.service.resolve("m");
            await h.scheduler.loadAndWait(definition);
            const leases = [await h.scheduler.acquire(definition, new AbortController().signal), await h.scheduler.acquire(definition, new AbortController().signal)];
            const busy = await h.app.inject({
                method: "POST",
                url: "/v1/generate",
                headers: { ...auth(h.keys.limited), ...json },
                payload: { model: "m", prompt: "x", max_tokens: 2 }
            });
            assert.equal(busy.statusCode, 503);
            for (const lease of leases) lease.release();
            const usage = (await h.app.inject({ method: "GET", url: "/v1/usage", headers: auth(h.keys.limited) })).json() as { data: Array<{ requests: number }> };
            assert.equal(usage.data[0]!.requests, 0);
        });
    });

    it("usage: a key sees its own; only admin keys see others", async () => {
        await withHarness({}, async (h) => {
            const own = await h.app.inject({ method: "GET", url: "/v1/usage?key_id=all", headers: auth(h.keys.limited) });
            assert.equal(own.statusCode, 403);
            const all = await h.app.inject({ method: "GET", url: "/v1/usage?key_id=all", headers: auth(h.keys.admin) });
            assert.equal(all.statusCode, 200);
            const bad = await h.app.inject({ method: "GET", url: "/v1/usage?day=yesterday", headers: auth(h.keys.admin) });
            assert.equal(bad.statusCode, 400);
        });
    });

    it("blocks an address's wrong keys after too many, counts it in stats, and lets good keys through", async () => {
        await withHarness({ authFailuresPerMinute: 5 }, async (h) => {
            for (let i = 0; i < 5; i++) {
                assert.equal((await h.app.inject({ method: "GET", url: "/v1/models", headers: auth("qdx_guess" + i), remoteAddress: "10.0.0.9" })).statusCode, 401);
            }
            const blocked = await h.app.inject({ method: "GET", url: "/v1/models", headers: auth("qdx_guess_again"), remoteAddress: "10.0.0.9" });
            assert.equal(blocked.statusCode, 429);
            assert.equal((blocked.json() as { error: { code: string } }).error.code, "auth_rate_limited");
            assert.ok(Number(blocked.headers["retry-after"]) >= 1);
            const other = await h.app.inject({ method: "GET", url: "/v1/stats", headers: auth(h.keys.read), remoteAddress: "10.0.0.10" });
            assert.equal(other.statusCode, 200);
            const server = (other.json() as { server: { auth_failures_total: number; auth_blocked_total: number } }).server;
            assert.equal(server.auth_failures_total, 5);
            assert.equal(server.auth_blocked_total, 1);
        });
    });

    it("admin REST API creates, lists, updates and revokes keys; the new key works at once", async () => {
        await withHarness({}, async (h) => {
            const admin = auth(h.keys.admin);
            const created = await h.app.inject({ method: "POST", url: "/v1/admin/keys", headers: { ...admin, ...json }, payload: { name: "app", scopes: ["read"], burst: 2 } });
            assert.equal(created.statusCode, 201);
            const key = created.json() as { id: string; key: string; burst: number; scopes: string[] };
            assert.equal(key.burst, 2);
            assert.equal((await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(key.key) })).statusCode, 200);
            const listed = (await h.app.inject({ method: "GET", url: "/v1/admin/keys", headers: admin })).json() as { data: Array<{ id: string; key?: string }> };
            assert.ok(listed.data.some((k) => k.id === key.id && k.key === undefined));
            const patched = await h.app.inject({
                method: "PATCH",
                url: `/v1/admin/keys/${key.id}`,
                headers: { ...admin, ...json },
                payload: { scopes: ["generate", "read"], burst: null }
            });
            assert.equal(patched.statusCode, 200);
            assert.equal((patched.json() as { burst: number | null }).burst, null);
            assert.equal((await h.app.inject({ method: "DELETE", url: `/v1/admin/keys/${key.id}`, headers: admin })).statusCode, 200);
            assert.equal((await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(key.key) })).statusCode, 401);
            assert.equal((await h.app.inject({ method: "DELETE", url: "/v1/admin/keys/key_none", headers: admin })).statusCode, 404);
            assert.equal((await h.app.inject({ method: "GET", url: "/v1/admin/keys", headers: auth(h.keys.generate) })).statusCode, 403);
            assert.equal((await h.app.inject({ method: "POST", url: "/v1/admin/keys", headers: { ...admin, ...json }, payload: { name: "x", scopes: ["root"] } })).statusCode, 400);
        });
    });
});
