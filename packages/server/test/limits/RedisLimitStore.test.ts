import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { QuandexError } from "@quandex/protocol";
import type { LimitsLogger } from "../../src/limits/LimitsLogger.js";
import { RedisLimitStore, type RedisLimitStoreOptions } from "../../src/limits/RedisLimitStore.js";
import { utcDay } from "../../src/limits/utcDay.js";
import { DEFAULTS, limitStoreContract, T0 } from "./limitStoreContract.js";
import { allowedSkip } from "@quandex/test-support";
import { RedisServer } from "./redisServer.js";

const skip = RedisServer.available() ? false : allowedSkip("redis-server is not installed (scripts/setup.sh installs it)");
let shared: RedisServer | undefined;
before(async () => {
    if (!skip) shared = await RedisServer.start();
});
after(async () => {
    await shared?.stop();
});

/** A store on the shared server under its own prefix, so tests never see each other's keys. */
function sharedStore(options: RedisLimitStoreOptions = {}): Promise<RedisLimitStore> {
    return RedisLimitStore.create({ url: shared?.url, keyPrefix: `test:${randomUUID()}:`, logger: silentLogger(), ...options });
}

function silentLogger(): LimitsLogger & { lines: string[] } {
    const lines: string[] = [];
    return { lines, warn: (_details, message) => lines.push(`warn: ${message}`), info: (_details, message) => lines.push(`info: ${message}`) };
}

function isUnavailable(error: unknown): boolean {
    return error instanceof QuandexError && error.code === "limits_unavailable" && error.status === 503 && error.retryAfter === 1;
}

limitStoreContract(
    "RedisLimitStore",
    async () => {
        const store = await sharedStore();
        return { store, close: () => store.dispose() };
    },
    { skip }
);

describe("RedisLimitStore", { skip }, () => {
    it("on the Redis clock: 60 concurrent requests from a fresh key admit 20 plus at most the refill over their spread", async () => {
        const store = await sharedStore();
        try {
            const started = performance.now();
            const decisions = await Promise.all(Array.from({ length: 60 }, () => store.consumeRate("k", DEFAULTS)));
            const spreadS = (performance.now() - started) / 1000;
            const admitted = decisions.filter((d) => d.allowed).length;
            assert.ok(admitted >= 20 && admitted <= 20 + Math.floor(spreadS * 10), `admitted ${admitted} in ${spreadS} s`);
            const daily = await store.admitDaily("k", DEFAULTS);
            assert.equal(daily.day, utcDay(Date.now()));
            await store.recordUsage("k", { promptTokens: 3, completionTokens: 4 });
            assert.deepEqual(await store.getUsage("k"), [{ keyId: "k", day: daily.day, requests: 1, promptTokens: 3, completionTokens: 4, totalTokens: 7 }]);
        } finally {
            await store.dispose();
        }
    });

    it("two replicas (two stores, two connections) share one burst of 20, not 40", async () => {
        const keyPrefix = `test:${randomUUID()}:`;
        const replicaA = await sharedStore({ keyPrefix });
        const replicaB = await sharedStore({ keyPrefix });
        try {
            const both = (now?: number) => Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? replicaA : replicaB).consumeRate("fixed", DEFAULTS, now)));
            assert.equal((await both(T0)).filter((d) => d.allowed).length, 20);

            const started = performance.now();
            const live = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? replicaA : replicaB).consumeRate("live", DEFAULTS)));
            const spreadS = (performance.now() - started) / 1000;
            const admitted = live.filter((d) => d.allowed).length;
            assert.ok(admitted >= 20 && admitted <= 20 + Math.floor(spreadS * 10), `admitted ${admitted} in ${spreadS} s`);

            const quota = { ...DEFAULTS, daily: 30 };
            const daily = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? replicaA : replicaB).admitDaily("fixed", quota, T0)));
            assert.equal(daily.filter((d) => d.allowed).length, 30);
        } finally {
            await replicaA.dispose();
            await replicaB.dispose();
        }
    });

    it("expires day keys after the retention (2 days) and buckets once they would be full", async () => {
        const keyPrefix = `test:${randomUUID()}:`;
        const store = await sharedStore({ keyPrefix });
        try {
            await store.admitDaily("k", DEFAULTS);
            await store.consumeRate("k", DEFAULTS);
            const day = Math.floor(Date.now() / 86_400_000);
            const dayTtl = await store.redis.ttl(`${keyPrefix}usage:${day}:k`);
            assert.ok(dayTtl > 2 * 86_400 - 10 && dayTtl <= 2 * 86_400, `ttl ${dayTtl}`);
            assert.ok((await store.redis.ttl(`${keyPrefix}usage:${day}`)) > 2 * 86_400 - 10);
            const bucketTtl = await store.redis.pttl(`${keyPrefix}bucket:k`);
            assert.ok(bucketTtl > 1000 && bucketTtl <= 1100, `bucket pttl ${bucketTtl}`); // 0.1 s to refill + 1 s margin
        } finally {
            await store.dispose();
        }
    });

    it("refuses to start against an address where no Redis answers", async () => {
        const dead = await RedisServer.start();
        await dead.stop();
        const started = performance.now();
        await assert.rejects(RedisLimitStore.create({ url: dead.url, logger: silentLogger() }), isUnavailable);
        assert.ok(performance.now() - started < 2000);
    });
});

describe("RedisLimitStore outages", { skip }, () => {
    let redis: RedisServer;
    before(async () => {
        redis = await RedisServer.start();
    });
    after(async () => {
        await redis.stop();
    });

    it("Redis killed: fails fast with limits_unavailable (or admits with failOpen), then recovers on restart without a new store", async () => {
        const strictLog = silentLogger();
        const openLog = silentLogger();
        const strict = await RedisLimitStore.create({ url: redis.url, logger: strictLog });
        const open = await RedisLimitStore.create({ url: redis.url, failOpen: true, logger: openLog });
        try {
            assert.equal((await strict.consumeRate("k", DEFAULTS)).allowed, true);
            await redis.kill();

            for (let i = 0; i < 3; i++) {
                const started = performance.now();
                await assert.rejects(strict.consumeRate("k", DEFAULTS), isUnavailable);
                await assert.rejects(strict.admitDaily("k", DEFAULTS), isUnavailable);
                await assert.rejects(strict.getUsage(null), isUnavailable);
                assert.ok(performance.now() - started < 1000, "a dead Redis must fail within a second");
            }
            assert.equal(strict.healthy, false);

            assert.deepEqual(await open.consumeRate("k", DEFAULTS), {
                allowed: true,
                limit: null,
                rps: null,
                remaining: null,
                resetSeconds: 0,
                retryAfterSeconds: null,
                degraded: true
            });
            const daily = await open.admitDaily("k", DEFAULTS);
            assert.equal(daily.allowed, true);
            assert.equal(daily.degraded, true);
            assert.equal(daily.counted, false);
            await open.recordUsage("k", { promptTokens: 1, completionTokens: 1 });
            await open.refundDaily("k", daily.day);
            await assert.rejects(open.getUsage("k"), isUnavailable);
            assert.equal(openLog.lines.filter((line) => line.startsWith("warn")).length, 1, openLog.lines.join("\n"));

            await redis.restart();
            const recovered = await eventually(() => strict.consumeRate("k", DEFAULTS), 3000);
            assert.equal(recovered.allowed, true);
            assert.equal(recovered.remaining, 19); // the restarted Redis is empty: a fresh bucket
            assert.equal((await eventually(() => open.consumeRate("k", DEFAULTS), 3000)).degraded, undefined);
            assert.equal((await strict.admitDaily("k", DEFAULTS)).used, 1);
            assert.equal(strict.healthy, true);
            assert.deepEqual(
                strictLog.lines.map((line) => line.split(":")[0]),
                ["warn", "info"]
            );
        } finally {
            await strict.dispose();
            await open.dispose();
        }
    });

    it("Redis hung (SIGSTOP): commands time out as limits_unavailable instead of hanging, then recover", async () => {
        const store = await RedisLimitStore.create({ url: redis.url, commandTimeoutMs: 300, logger: silentLogger() });
        try {
            assert.equal((await store.consumeRate("h", DEFAULTS)).allowed, true);
            redis.pause();
            const started = performance.now();
            await assert.rejects(store.consumeRate("h", DEFAULTS), isUnavailable);
            const waited = performance.now() - started;
            assert.ok(waited >= 250 && waited < 1000, `failed after ${waited} ms`);
            redis.resume();
            const recovered = await eventually(() => store.consumeRate("h", DEFAULTS), 3000);
            assert.equal(recovered.allowed, true);
        } finally {
            redis.resume();
            await store.dispose();
        }
    });

    it("dispose works while Redis is down", async () => {
        const store = await RedisLimitStore.create({ url: redis.url, logger: silentLogger() });
        await redis.kill();
        const started = performance.now();
        await store.dispose();
        assert.ok(performance.now() - started < 1000);
        await redis.restart();
    });
});

/** Retries `attempt` until it resolves, for at most `withinMs`. */
async function eventually<T>(attempt: () => Promise<T>, withinMs: number): Promise<T> {
    const deadline = performance.now() + withinMs;
    for (;;) {
        try {
            return await attempt();
        } catch (error) {
            if (performance.now() > deadline) throw error;
            await sleep(50);
        }
    }
}
