import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { MemoryLimitStore } from "../../src/limits/MemoryLimitStore.js";
import { DEFAULTS, limitStoreContract, T0 } from "./limitStoreContract.js";

limitStoreContract("MemoryLimitStore", async () => {
    const db = new Database(":memory:");
    const store = new MemoryLimitStore({ db });
    const close = async (): Promise<void> => {
        await store.dispose();
        db.close();
    };
    return { store, close };
});

describe("MemoryLimitStore", () => {
    it("on the real clock: 60 concurrent requests from a fresh key admit 20 plus what refilled, then ~10/s", async () => {
        const db = new Database(":memory:");
        const store = new MemoryLimitStore({ db });
        try {
            const started = performance.now();
            const burst = await Promise.all(Array.from({ length: 60 }, () => store.consumeRate("real", DEFAULTS)));
            const spreadS = (performance.now() - started) / 1000;
            const admitted = burst.filter((d) => d.allowed).length;
            assert.ok(admitted >= 20 && admitted <= 20 + Math.floor(spreadS * 10), `admitted ${admitted} in ${spreadS} s`);
            const drained = performance.now();
            await sleep(350);
            let more = 0;
            while ((await store.consumeRate("real", DEFAULTS)).allowed) more++;
            const waitedS = (performance.now() - drained) / 1000;
            // 350 ms at 10/s is 3.5 tokens (timers fire late, never early), plus under one left over from the burst.
            assert.ok(more >= 3 && more <= Math.floor(1 + waitedS * 10), `admitted ${more} after ${waitedS} s`);
        } finally {
            await store.dispose();
            db.close();
        }
    });

    it("keeps daily counts and usage across reopening the database file; buckets start full", async () => {
        const dir = mkdtempSync(join(tmpdir(), "quandex-limits-"));
        const file = join(dir, "quandex.db");
        try {
            const first = new Database(file);
            const store = new MemoryLimitStore({ db: first });
            for (let i = 0; i < 7; i++) await store.admitDaily("k", DEFAULTS, T0);
            await store.recordUsage("k", { promptTokens: 4, completionTokens: 2 }, T0);
            for (let i = 0; i < 20; i++) await store.consumeRate("k", DEFAULTS, T0);
            await store.dispose();
            first.close();

            const second = new Database(file);
            const reopened = new MemoryLimitStore({ db: second });
            assert.equal(second.pragma("journal_mode", { simple: true }), "wal");
            assert.equal((await reopened.peekDaily("k", DEFAULTS, T0)).used, 7);
            assert.deepEqual(await reopened.getUsage("k", "2030-06-15"), [{ keyId: "k", day: "2030-06-15", requests: 7, promptTokens: 4, completionTokens: 2, totalTokens: 6 }]);
            assert.equal((await reopened.consumeRate("k", DEFAULTS, T0)).remaining, 19);
            await reopened.dispose();
            second.close();
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("forgets buckets that have refilled, so memory stays bounded by active keys", async () => {
        const db = new Database(":memory:");
        let now = T0;
        const store = new MemoryLimitStore({ db, clock: () => now, sweepIntervalMs: 1000 });
        for (let i = 0; i < 100; i++) await store.consumeRate(`k${i}`, DEFAULTS);
        assert.equal(store.bucketCount, 100);
        now += 1000; // one token each was back after 100 ms: all full again
        await store.consumeRate("fresh", DEFAULTS);
        assert.equal(store.bucketCount, 1);
        await store.dispose();
        db.close();
    });

    it("uses the injected clock for the day when none is given", async () => {
        const db = new Database(":memory:");
        const store = new MemoryLimitStore({ db, clock: () => T0 });
        await store.admitDaily("k", DEFAULTS);
        await store.recordUsage("k", { promptTokens: 1, completionTokens: 2 });
        assert.deepEqual(await store.getUsage(null), [{ keyId: "k", day: "2030-06-15", requests: 1, promptTokens: 1, completionTokens: 2, totalTokens: 3 }]);
        await store.dispose();
        db.close();
    });

    it("raises synchronous to NORMAL but keeps a stricter FULL", () => {
        const dir = mkdtempSync(join(tmpdir(), "quandex-limits-"));
        try {
            const lax = new Database(join(dir, "a.db"));
            lax.pragma("synchronous = OFF");
            new MemoryLimitStore({ db: lax });
            assert.equal(lax.pragma("synchronous", { simple: true }), 1);
            const strict = new Database(join(dir, "b.db"));
            strict.pragma("synchronous = FULL");
            new MemoryLimitStore({ db: strict });
            assert.equal(strict.pragma("synchronous", { simple: true }), 2);
            lax.close();
            strict.close();
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("turns a database failure into limits_unavailable", async () => {
        const db = new Database(":memory:");
        const store = new MemoryLimitStore({ db });
        db.close();
        await assert.rejects(store.admitDaily("k", DEFAULTS, T0), (error: unknown) => {
            assert.equal((error as { code?: string }).code, "limits_unavailable");
            assert.equal((error as { status?: number }).status, 503);
            assert.equal((error as { retryAfter?: number }).retryAfter, 1);
            return true;
        });
        // The rate limit lives in memory and keeps working.
        assert.equal((await store.consumeRate("k", DEFAULTS, T0)).allowed, true);
    });
});
