import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { AuthFailureLimiter } from "../../src/limits/AuthFailureLimiter.js";
import { authRateLimitedError } from "../../src/limits/limitErrors.js";
import { MemoryAuthFailureLimiter } from "../../src/limits/MemoryAuthFailureLimiter.js";
import { RedisAuthFailureLimiter } from "../../src/limits/RedisAuthFailureLimiter.js";
import { RedisLimitStore } from "../../src/limits/RedisLimitStore.js";
import { T0 } from "./limitStoreContract.js";
import { allowedSkip } from "@quandex/test-support";
import { RedisServer } from "./redisServer.js";

const quiet = { warn: () => {}, info: () => {} };

/** The shared behaviour, run against both limiters. */
function authFailureContract(name: string, make: () => Promise<{ limiter: AuthFailureLimiter; close: () => Promise<void> }>, skip: string | false = false): void {
    describe(`${name}: brute-force limiting`, { skip }, () => {
        it("lets a handful of deliberate 401s through, blocks after 30 in a minute, then allows one per 2 s", async () => {
            const { limiter, close } = await make();
            const ip = "203.0.113.7";
            for (let i = 0; i < 5; i++) {
                assert.equal((await limiter.check(ip, T0)).blocked, false);
                await limiter.recordFailure(ip, T0);
            }
            for (let i = 5; i < 29; i++) await limiter.recordFailure(ip, T0);
            assert.deepEqual(await limiter.recordFailure(ip, T0), { blocked: true, remaining: 0, retryAfterSeconds: 2 });
            assert.deepEqual(await limiter.check(ip, T0 + 500), { blocked: true, remaining: 0, retryAfterSeconds: 2 });
            assert.equal((await limiter.check(ip, T0 + 1999)).blocked, true);
            assert.equal((await limiter.check(ip, T0 + 2000)).blocked, false);
            assert.equal((await limiter.check("203.0.113.8", T0)).blocked, false, "other addresses are not affected");
            assert.deepEqual(limiter.stats(), { failuresTotal: 30, blockedTotal: 2 });
            const error = authRateLimitedError(await limiter.check(ip, T0));
            assert.deepEqual([error.code, error.status, error.retryAfter], ["auth_rate_limited", 429, 2]);
            await close();
        });

        it("counts an IPv6 /64 as one client and a v4-mapped address as its IPv4 address", async () => {
            const { limiter, close } = await make();
            for (let i = 0; i < 30; i++) await limiter.recordFailure(`2001:db8:1:2::${i.toString(16)}`, T0);
            assert.equal((await limiter.check("2001:db8:1:2:ffff::1", T0)).blocked, true);
            assert.equal((await limiter.check("2001:db8:1:3::1", T0)).blocked, false);
            for (let i = 0; i < 30; i++) await limiter.recordFailure("::ffff:198.51.100.1", T0);
            assert.equal((await limiter.check("198.51.100.1", T0)).blocked, true);
            await close();
        });
    });
}

authFailureContract("MemoryAuthFailureLimiter", async () => {
    const limiter = new MemoryAuthFailureLimiter();
    return { limiter, close: () => limiter.dispose() };
});

describe("MemoryAuthFailureLimiter", () => {
    it("honours a custom threshold and window", async () => {
        const limiter = new MemoryAuthFailureLimiter({ maxFailures: 3, windowMs: 30_000 });
        for (let i = 0; i < 3; i++) await limiter.recordFailure("192.0.2.1", T0);
        assert.deepEqual(await limiter.check("192.0.2.1", T0), { blocked: true, remaining: 0, retryAfterSeconds: 10 });
    });

    it("forgets addresses once they have earned back every attempt, and caps how many it tracks", async () => {
        let now = T0;
        const limiter = new MemoryAuthFailureLimiter({ clock: () => now, maxTrackedAddresses: 50 });
        for (let i = 0; i < 200; i++) await limiter.recordFailure(`192.0.2.${i}`);
        assert.equal(limiter.trackedAddresses, 50);
        now += 2_000; // one failure each earns back its attempt in 2 s
        await limiter.recordFailure("198.51.100.9");
        assert.equal(limiter.trackedAddresses, 1);
    });

    it("rejects nonsensical settings", () => {
        assert.throws(() => new MemoryAuthFailureLimiter({ maxFailures: 0 }), RangeError);
        assert.throws(() => new MemoryAuthFailureLimiter({ windowMs: -1 }), RangeError);
    });
});

const skip = RedisServer.available() ? false : allowedSkip("redis-server is not installed (scripts/setup.sh installs it)");
let redis: RedisServer | undefined;
before(async () => {
    if (!skip) redis = await RedisServer.start();
});
after(async () => {
    await redis?.stop();
});

authFailureContract(
    "RedisAuthFailureLimiter",
    async () => {
        // A fresh prefix per test, so tests never share an address's bucket.
        const store = await RedisLimitStore.create({ url: redis?.url, keyPrefix: `test:${randomUUID()}:`, logger: quiet });
        return { limiter: new RedisAuthFailureLimiter(store, { logger: quiet }), close: () => store.dispose() };
    },
    skip
);

describe("RedisAuthFailureLimiter", { skip }, () => {
    it("is shared by replicas and fails open while Redis is down", async () => {
        const keyPrefix = `test:${randomUUID()}:`;
        const other = await RedisLimitStore.create({ url: redis?.url, keyPrefix, logger: quiet });
        const mine = await RedisLimitStore.create({ url: redis?.url, keyPrefix, logger: quiet });
        const lines: string[] = [];
        const log = { warn: (_: object, m: string) => lines.push(m), info: (_: object, m: string) => lines.push(m) };
        const a = new RedisAuthFailureLimiter(other, { logger: log });
        const b = new RedisAuthFailureLimiter(mine, { logger: log });
        for (let i = 0; i < 15; i++) {
            await a.recordFailure("192.0.2.50", T0);
            await b.recordFailure("192.0.2.50", T0);
        }
        assert.equal((await a.check("192.0.2.50", T0)).blocked, true);
        assert.equal((await b.check("192.0.2.50", T0)).blocked, true);
        await redis?.kill();
        assert.deepEqual(await b.check("192.0.2.50", T0), { blocked: false, remaining: 30, retryAfterSeconds: null });
        assert.equal(lines.length, 1);
        await redis?.restart();
        await other.dispose();
        await mine.dispose();
    });
});
