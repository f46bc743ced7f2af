import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { SqliteKeyStore } from "../src/keys/SqliteKeyStore.js";
import { MemoryLimitStore } from "../src/limits/MemoryLimitStore.js";
import { DEFAULTS, T0 } from "./limits/limitStoreContract.js";

/** Two connections to one database file: the server's, and another process's (the CLI, a replica). */
function twoConnections(): { server: Database.Database; other: Database.Database } {
    const dir = mkdtempSync(join(tmpdir(), "quandex-dv-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const open = (): Database.Database => {
        const db = new Database(join(dir, "quandex.db"));
        db.pragma("journal_mode = WAL");
        after(() => db.close());
        return db;
    };
    return { server: open(), other: open() };
}

describe("caches checked against SQLite's data_version", () => {
    it("a key cached by the server is refused once another connection revokes it, and its new limits apply", async () => {
        const { server, other } = twoConnections();
        const serverKeys = new SqliteKeyStore(server);
        const otherKeys = new SqliteKeyStore(other);
        const { record, secret } = await otherKeys.create({ name: "k", scopes: ["read"] });
        const first = await serverKeys.authenticate(secret);
        assert.equal(first?.id, record.id);
        assert.equal(await serverKeys.authenticate(secret), first, "the second lookup is served from the cache");

        await otherKeys.update(record.id, { limits: { rps: 3 } });
        await nextTurn();
        assert.equal((await serverKeys.authenticate(secret))?.limits.rps, 3);

        await otherKeys.revoke(record.id);
        await nextTurn();
        assert.equal(await serverKeys.authenticate(secret), undefined);
    });

    it("the server's own revoke takes effect at once, without waiting for a turn", async () => {
        const { server } = twoConnections();
        const keys = new SqliteKeyStore(server);
        const { record, secret } = await keys.create({ name: "k", scopes: ["read"] });
        assert.ok(await keys.authenticate(secret));
        await keys.revoke(record.id);
        assert.equal(await keys.authenticate(secret), undefined);
    });

    it("the daily count the server peeks includes requests another process admitted", async () => {
        const { server, other } = twoConnections();
        const mine = new MemoryLimitStore({ db: server, clock: () => T0 });
        const theirs = new MemoryLimitStore({ db: other, clock: () => T0 });
        try {
            assert.equal((await mine.admitDaily("k", DEFAULTS)).remaining, DEFAULTS.daily! - 1);
            assert.equal((await mine.peekDaily("k", DEFAULTS)).remaining, DEFAULTS.daily! - 1, "its own admission, from the cache");
            await theirs.admitDaily("k", DEFAULTS);
            await theirs.admitDaily("k", DEFAULTS);
            await nextTurn();
            assert.equal((await mine.peekDaily("k", DEFAULTS)).remaining, DEFAULTS.daily! - 3);
            await mine.refundDaily("k", new Date(T0).toISOString().slice(0, 10));
            assert.equal((await mine.peekDaily("k", DEFAULTS)).remaining, DEFAULTS.daily! - 2, "its own refund, at once");
        } finally {
            await mine.dispose();
            await theirs.dispose();
        }
    });
});
