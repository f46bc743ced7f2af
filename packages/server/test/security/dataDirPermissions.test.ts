import assert from "node:assert/strict";
import { mkdtempSync, statSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { openDatabase } from "../../src/storage/openDatabase.js";
import { SqliteKeyStore } from "../../src/keys/SqliteKeyStore.js";

const mode = (file: string): string => (statSync(file).mode & 0o777).toString(8);

/** The audit found the key database created 0644 (readable by every local user, key hashes and all). */
describe("the data dir is 0700 and the database 0600", () => {
    it("creates them so, whatever the umask, and the WAL files too", async () => {
        const root = mkdtempSync(path.join(os.tmpdir(), "qdx-perm-"));
        const dataDir = path.join(root, "a", "data");
        const previous = process.umask(0);
        try {
            const db = openDatabase(dataDir);
            const store = new SqliteKeyStore(db);
            await store.create({ name: "k", scopes: ["read"] });
            assert.equal(mode(dataDir), "700");
            for (const file of ["quandex.db", "quandex.db-wal", "quandex.db-shm"]) {
                const full = path.join(dataDir, file);
                if (file === "quandex.db" || existsSync(full)) assert.equal(mode(full), "600", file);
            }
            assert.ok(existsSync(path.join(dataDir, "quandex.db-wal")), "WAL mode makes a -wal file, checked above");
            db.close();
        } finally {
            process.umask(previous);
        }
    });

    it("tightens a database an earlier version left 0644", () => {
        const dataDir = mkdtempSync(path.join(os.tmpdir(), "qdx-perm-"));
        const file = path.join(dataDir, "quandex.db");
        writeFileSync(file, "");
        chmodSync(file, 0o644);
        const db = openDatabase(dataDir);
        db.close();
        assert.equal(mode(file), "600");
    });
});
