import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

/**
 * Opens the data dir's SQLite database. WAL lets the CLI write keys while a server reads them;
 * `synchronous = NORMAL` survives a process kill (the WAL is in the page cache), only power loss
 * can drop the last transactions.
 */
export function openDatabase(dataDir: string): Database.Database {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const db = new Database(path.join(dataDir, "quandex.db"));
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    return db;
}
