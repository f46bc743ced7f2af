import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

/**
 * Opens the data dir's SQLite database. WAL lets the CLI write keys while a server reads them;
 * `synchronous = NORMAL` survives a process kill (the WAL is in the page cache), only power loss
 * can drop the last transactions.
 *
 * The dir is created 0700 and the database 0600: it holds the keys' hashes, scopes and usage, which
 * no other local user should read. SQLite gives its `-wal` and `-shm` files the database's own mode,
 * so creating the file 0600 before SQLite opens it covers them; a database an earlier version left
 * 0644 is tightened on open.
 */
export function openDatabase(dataDir: string): Database.Database {
    if (!existsSync(dataDir)) {
        mkdirSync(dataDir, { recursive: true, mode: 0o700 });
        chmodSync(dataDir, 0o700);
    }
    const file = path.join(dataDir, "quandex.db");
    // Flag `a` creates the file 0600 when absent and leaves an existing database's bytes alone.
    closeSync(openSync(file, "a", 0o600));
    for (const suffix of ["", "-wal", "-shm"]) {
        if (existsSync(file + suffix)) chmodSync(file + suffix, 0o600);
    }
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    return db;
}
