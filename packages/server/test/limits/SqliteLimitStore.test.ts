import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { SqliteLimitStore } from "../../src/limits/SqliteLimitStore.js";
import { spawnFixture, waitForOutput } from "./childProcess.js";
import { DEFAULTS, limitStoreContract, T0 } from "./limitStoreContract.js";

limitStoreContract("SqliteLimitStore", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quandex-limits-"));
    const db = new Database(join(dir, "quandex.db"));
    const store = new SqliteLimitStore({ db });
    const close = async (): Promise<void> => {
        await store.dispose();
        db.close();
        rmSync(dir, { recursive: true, force: true });
    };
    return { store, close };
});

describe("SqliteLimitStore", () => {
    it("three processes sharing the data dir together admit one burst of 20 and one daily quota of 50", async () => {
        const dir = mkdtempSync(join(tmpdir(), "quandex-limits-"));
        const file = join(dir, "quandex.db");
        // Create the tables first so the children do not race to create them.
        const setup = new Database(file);
        new SqliteLimitStore({ db: setup });
        setup.close();
        const children = Array.from({ length: 3 }, () => spawnFixture("consumeBurst.ts", [file, String(T0), "40"]));
        try {
            await Promise.all(children.map((child) => waitForOutput(child, (out) => out.includes("ready\n"))));
            const results = children.map((child) => waitForOutput(child, (out) => /^\d+ \d+$/m.test(out)));
            for (const child of children) child.stdin.write("go\n");
            const counts = (await Promise.all(results)).map((out) => (/^(\d+) (\d+)$/m.exec(out) ?? []).slice(1).map(Number));
            assert.equal(
                counts.reduce((sum, [rate = 0]) => sum + rate, 0),
                20,
                `per process: ${JSON.stringify(counts)}`
            );
            assert.equal(
                counts.reduce((sum, [, daily = 0]) => sum + daily, 0),
                50,
                `per process: ${JSON.stringify(counts)}`
            );
        } finally {
            for (const child of children) child.kill("SIGKILL");
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("keeps a drained bucket drained across a restart", async () => {
        const dir = mkdtempSync(join(tmpdir(), "quandex-limits-"));
        const file = join(dir, "quandex.db");
        try {
            const first = new Database(file);
            const store = new SqliteLimitStore({ db: first });
            for (let i = 0; i < 20; i++) await store.consumeRate("k", DEFAULTS, T0);
            first.close();
            const second = new Database(file);
            const reopened = new SqliteLimitStore({ db: second });
            assert.equal((await reopened.consumeRate("k", DEFAULTS, T0)).allowed, false);
            assert.equal((await reopened.consumeRate("k", DEFAULTS, T0 + 100)).allowed, true);
            second.close();
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("turns a locked database into limits_unavailable instead of waiting forever", async () => {
        const dir = mkdtempSync(join(tmpdir(), "quandex-limits-"));
        const file = join(dir, "quandex.db");
        try {
            const holder = new Database(file);
            const db = new Database(file, { timeout: 50 });
            const store = new SqliteLimitStore({ db });
            holder.exec("BEGIN IMMEDIATE");
            const started = performance.now();
            await assert.rejects(store.consumeRate("k", DEFAULTS, T0), (error: unknown) => (error as { code?: string }).code === "limits_unavailable");
            assert.ok(performance.now() - started < 1000);
            holder.exec("ROLLBACK");
            assert.equal((await store.consumeRate("k", DEFAULTS, T0)).allowed, true);
            holder.close();
            db.close();
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
