import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { QuandexError } from "@quandex/protocol";
import type { KeyLimits } from "../../src/limits/KeyLimits.js";
import type { LimitStore } from "../../src/limits/LimitStore.js";

/** Builds a fresh, empty store for one test; `close` releases it and whatever backs it. */
export type StoreFactory = () => Promise<{ store: LimitStore; close: () => Promise<void> }>;

export const DEFAULTS: KeyLimits = { rps: 10, burst: 20, daily: 1000, unlimited: false };
/** 2030-06-15T12:00:00Z: an arbitrary instant, so injected-clock tests are independent of today. */
export const T0 = Date.UTC(2030, 5, 15, 12, 0, 0);

/**
 * The behaviour every LimitStore must share, driven through the `now` argument so it runs alike
 * against memory, SQLite and Redis. Each store's own test file adds what only it can show
 * (persistence, processes, outages).
 */
export function limitStoreContract(name: string, factory: StoreFactory, options: { skip?: string | false } = {}): void {
    const skip = options.skip ?? false;
    const withStore = (test: (store: LimitStore, key: string) => Promise<void>) => async () => {
        const { store, close } = await factory();
        try {
            await test(store, `key-${randomUUID()}`);
        } finally {
            await close();
        }
    };

    describe(`${name}: rate limit`, { skip }, () => {
        it(
            "admits exactly the burst of 20 from 60 concurrent requests of a fresh key at one instant",
            withStore(async (store, key) => {
                const decisions = await Promise.all(Array.from({ length: 60 }, () => store.consumeRate(key, DEFAULTS, T0)));
                assert.equal(decisions.filter((d) => d.allowed).length, 20);
                const remaining = decisions
                    .filter((d) => d.allowed)
                    .map((d) => d.remaining)
                    .sort((a, b) => (b ?? 0) - (a ?? 0));
                assert.deepEqual(
                    remaining,
                    Array.from({ length: 20 }, (_, i) => 19 - i)
                );
                for (const refused of decisions.filter((d) => !d.allowed)) {
                    assert.deepEqual(refused, { allowed: false, limit: 20, rps: 10, remaining: 0, resetSeconds: 2, retryAfterSeconds: 1 });
                }
            })
        );

        it(
            "sustains 10 per second after the burst: 20 + 100 admitted over 10 s of attempts every 20 ms",
            withStore(async (store, key) => {
                let admitted = 0;
                for (let t = T0; t <= T0 + 10_000; t += 20) {
                    while ((await store.consumeRate(key, DEFAULTS, t)).allowed) admitted++;
                }
                assert.equal(admitted, 20 + 100);
            })
        );

        it(
            "Retry-After is the real wait: refused 1 ms before it, admitted at it",
            withStore(async (store, key) => {
                const slow: KeyLimits = { rps: 0.5, burst: 1, daily: null, unlimited: false };
                assert.equal((await store.consumeRate(key, slow, T0)).allowed, true);
                const refused = await store.consumeRate(key, slow, T0 + 300);
                assert.equal(refused.allowed, false);
                assert.equal(refused.retryAfterSeconds, 2); // 1.7 s to one token, rounded up
                assert.equal((await store.consumeRate(key, slow, T0 + 1999)).allowed, false);
                assert.equal((await store.consumeRate(key, slow, T0 + 2000)).allowed, true);
            })
        );

        it(
            "reports remaining whole tokens and seconds until full",
            withStore(async (store, key) => {
                const limits: KeyLimits = { rps: 1, burst: 20, daily: null, unlimited: false };
                for (let i = 0; i < 4; i++) await store.consumeRate(key, limits, T0);
                const fifth = await store.consumeRate(key, limits, T0);
                assert.deepEqual(fifth, { allowed: true, limit: 20, rps: 1, remaining: 15, resetSeconds: 5, retryAfterSeconds: null });
                const later = await store.peekRate(key, limits, T0 + 2500);
                assert.deepEqual(later, { allowed: true, limit: 20, rps: 1, remaining: 17, resetSeconds: 3, retryAfterSeconds: null });
            })
        );

        it(
            "peekRate does not consume",
            withStore(async (store, key) => {
                for (let i = 0; i < 5; i++) assert.equal((await store.peekRate(key, DEFAULTS, T0)).remaining, 20);
                assert.equal((await store.consumeRate(key, DEFAULTS, T0)).remaining, 19);
                assert.equal((await store.peekRate(key, DEFAULTS, T0)).remaining, 19);
            })
        );

        it(
            "keeps keys apart and lets unlimited keys through without headers",
            withStore(async (store, key) => {
                for (let i = 0; i < 20; i++) await store.consumeRate(key, DEFAULTS, T0);
                assert.equal((await store.consumeRate(key, DEFAULTS, T0)).allowed, false);
                assert.equal((await store.consumeRate(`${key}-other`, DEFAULTS, T0)).allowed, true);
                const unlimited = { ...DEFAULTS, unlimited: true };
                for (let i = 0; i < 50; i++) {
                    assert.deepEqual(await store.consumeRate(key, unlimited, T0), {
                        allowed: true,
                        limit: null,
                        rps: null,
                        remaining: null,
                        resetSeconds: 0,
                        retryAfterSeconds: null
                    });
                }
            })
        );

        it(
            "a clock that steps backwards refills nothing and takes nothing extra",
            withStore(async (store, key) => {
                for (let i = 0; i < 20; i++) await store.consumeRate(key, DEFAULTS, T0);
                assert.equal((await store.consumeRate(key, DEFAULTS, T0 - 5000)).allowed, false);
                assert.equal((await store.consumeRate(key, DEFAULTS, T0 + 100)).allowed, true);
            })
        );
    });

    describe(`${name}: daily quota`, { skip }, () => {
        const quota3: KeyLimits = { rps: 10, burst: 20, daily: 3, unlimited: false };
        const lastMs = Date.UTC(2030, 5, 15, 23, 59, 59, 999);
        const midnight = Date.UTC(2030, 5, 16);

        it(
            "refuses past the quota until 00:00 UTC, then admits again",
            withStore(async (store, key) => {
                const first = await store.admitDaily(key, quota3, T0);
                assert.deepEqual(first, {
                    allowed: true,
                    limit: 3,
                    used: 1,
                    remaining: 2,
                    resetSeconds: 12 * 3600,
                    retryAfterSeconds: null,
                    day: "2030-06-15",
                    counted: true
                });
                await store.admitDaily(key, quota3, T0);
                assert.equal((await store.admitDaily(key, quota3, T0)).remaining, 0);
                const refused = await store.admitDaily(key, quota3, T0 + 1000);
                assert.deepEqual(refused, {
                    allowed: false,
                    limit: 3,
                    used: 3,
                    remaining: 0,
                    resetSeconds: 12 * 3600 - 1,
                    retryAfterSeconds: 12 * 3600 - 1,
                    day: "2030-06-15",
                    counted: false
                });
                const lastRefusal = await store.admitDaily(key, quota3, lastMs);
                assert.equal(lastRefusal.allowed, false);
                assert.equal(lastRefusal.retryAfterSeconds, 1);
                const nextDay = await store.admitDaily(key, quota3, midnight);
                assert.deepEqual(nextDay, {
                    allowed: true,
                    limit: 3,
                    used: 1,
                    remaining: 2,
                    resetSeconds: 86_400,
                    retryAfterSeconds: null,
                    day: "2030-06-16",
                    counted: true
                });
            })
        );

        it(
            "admits exactly the quota from concurrent requests",
            withStore(async (store, key) => {
                const limits = { ...DEFAULTS, daily: 25 };
                const decisions = await Promise.all(Array.from({ length: 60 }, () => store.admitDaily(key, limits, T0)));
                assert.equal(decisions.filter((d) => d.allowed).length, 25);
                assert.equal((await store.peekDaily(key, limits, T0)).used, 25);
            })
        );

        it(
            "refunds to the day of the admission, never below zero",
            withStore(async (store, key) => {
                const admitted = await store.admitDaily(key, quota3, lastMs);
                await store.admitDaily(key, quota3, midnight);
                await store.refundDaily(key, admitted.day);
                assert.equal((await store.peekDaily(key, quota3, lastMs)).used, 0);
                assert.equal((await store.peekDaily(key, quota3, midnight)).used, 1);
                await store.refundDaily(key, admitted.day);
                assert.equal((await store.peekDaily(key, quota3, lastMs)).used, 0);
            })
        );

        it(
            "a refund frees a place under the quota",
            withStore(async (store, key) => {
                for (let i = 0; i < 3; i++) await store.admitDaily(key, quota3, T0);
                assert.equal((await store.admitDaily(key, quota3, T0)).allowed, false);
                await store.refundDaily(key, "2030-06-15");
                assert.equal((await store.admitDaily(key, quota3, T0)).allowed, true);
                assert.equal((await store.admitDaily(key, quota3, T0)).allowed, false);
            })
        );

        it(
            "counts keys without a quota (and unlimited keys) but never refuses them",
            withStore(async (store, key) => {
                for (const limits of [
                    { ...DEFAULTS, daily: null },
                    { ...quota3, unlimited: true }
                ]) {
                    for (let i = 0; i < 5; i++) assert.equal((await store.admitDaily(key, limits, T0)).allowed, true);
                }
                const last = await store.admitDaily(key, { ...DEFAULTS, daily: null }, T0);
                assert.deepEqual(
                    { ...last, resetSeconds: 0 },
                    {
                        allowed: true,
                        limit: null,
                        used: 11,
                        remaining: null,
                        resetSeconds: 0,
                        retryAfterSeconds: null,
                        day: "2030-06-15",
                        counted: true
                    }
                );
            })
        );

        it(
            "a quota of 0 refuses everything; peekDaily does not count",
            withStore(async (store, key) => {
                const none = { ...DEFAULTS, daily: 0 };
                assert.equal((await store.peekDaily(key, none, T0)).allowed, false);
                assert.equal((await store.admitDaily(key, none, T0)).allowed, false);
                assert.equal((await store.peekDaily(key, quota3, T0)).used, 0);
            })
        );
    });

    describe(`${name}: usage`, { skip }, () => {
        it(
            "sums tokens and requests per key per UTC day, for one key and for all",
            withStore(async (store, key) => {
                const other = `${key}-b`;
                await store.admitDaily(key, DEFAULTS, T0);
                await store.recordUsage(key, { promptTokens: 5, completionTokens: 100 }, T0);
                await store.admitDaily(key, DEFAULTS, T0);
                await store.recordUsage(key, { promptTokens: 7, completionTokens: 3 }, T0 + 1);
                await store.admitDaily(other, DEFAULTS, T0);
                await store.recordUsage(key, { promptTokens: 1, completionTokens: 1 }, Date.UTC(2030, 5, 16));
                const mine = { keyId: key, day: "2030-06-15", requests: 2, promptTokens: 12, completionTokens: 103, totalTokens: 115 };
                const theirs = { keyId: other, day: "2030-06-15", requests: 1, promptTokens: 0, completionTokens: 0, totalTokens: 0 };
                assert.deepEqual(await store.getUsage(key, "2030-06-15"), [mine]);
                assert.deepEqual(await store.getUsage(null, "2030-06-15"), [mine, theirs]);
                assert.deepEqual(await store.getUsage(key, "2030-06-16"), [{ keyId: key, day: "2030-06-16", requests: 0, promptTokens: 1, completionTokens: 1, totalTokens: 2 }]);
                assert.deepEqual(await store.getUsage(key, "2030-06-14"), []);
            })
        );

        it(
            "rejects a day that is not a calendar day, and token counts that are not counts",
            withStore(async (store, key) => {
                for (const day of ["2030-02-30", "yesterday", "2030-6-1"]) {
                    await assert.rejects(store.getUsage(key, day), (error: unknown) => {
                        assert.ok(error instanceof QuandexError);
                        assert.equal(error.code, "invalid_parameter");
                        assert.equal(error.param, "day");
                        return true;
                    });
                }
                await assert.rejects(async () => store.recordUsage(key, { promptTokens: -1, completionTokens: 0 }, T0), RangeError);
                await assert.rejects(async () => store.recordUsage(key, { promptTokens: Number.NaN, completionTokens: 0 }, T0), RangeError);
            })
        );
    });

    describe(`${name}: lifecycle`, { skip }, () => {
        it("rejects with server_shutdown after dispose, and dispose is idempotent", async () => {
            const { store, close } = await factory();
            try {
                await store.dispose();
                await store.dispose();
                await assert.rejects(store.consumeRate("k", DEFAULTS, T0), (error: unknown) => error instanceof QuandexError && error.code === "server_shutdown");
                await assert.rejects(store.admitDaily("k", DEFAULTS, T0), (error: unknown) => error instanceof QuandexError && error.code === "server_shutdown");
            } finally {
                await close();
            }
        });
    });
}
