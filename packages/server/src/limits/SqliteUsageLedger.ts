import type Database from "better-sqlite3";
import { migrateSchema } from "../storage/migrateSchema.js";
import { DataVersionCache, SqliteDataVersion } from "../storage/SqliteDataVersion.js";
import { dailyDecision, type DailyDecision } from "./DailyDecision.js";
import type { KeyLimits } from "./KeyLimits.js";
import type { TokenUsage, UsageRecord } from "./UsageRecord.js";
import { utcDay } from "./utcDay.js";

/** The `limit_usage` table's migrations (see `storage/migrateSchema.ts`); append, never edit. */
const usageSchema = [
    `CREATE TABLE IF NOT EXISTS limit_usage (
                key_id TEXT NOT NULL,
                day TEXT NOT NULL,
                requests INTEGER NOT NULL DEFAULT 0,
                prompt_tokens INTEGER NOT NULL DEFAULT 0,
                completion_tokens INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (key_id, day)
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS limit_usage_by_day ON limit_usage (day, key_id);`
];

export interface SqliteUsageLedgerOptions {
    /**
     * The minimum `PRAGMA synchronous` for the connection; a stricter setting already on it is kept.
     *
     * Why NORMAL is enough: in WAL mode a commit is a `write()` of the transaction's frames into the
     * `-wal` file. Once `write()` returns, the bytes are in the kernel's page cache, which belongs to
     * the OS, not to our process, so a `kill -9` or crash of the server loses nothing that was
     * committed; the next open replays the WAL. What NORMAL skips is the `fsync()` per commit, which
     * only matters if the machine itself loses power or the kernel panics before writeback, when the
     * last commits may roll back (the database stays consistent). FULL buys that at one fsync per
     * admitted request. Choose FULL when a few requests of quota after a power cut matter more.
     * Defaults to `"NORMAL"`.
     */
    synchronous?: "NORMAL" | "FULL";
}

const SYNCHRONOUS_LEVELS = { OFF: 0, NORMAL: 1, FULL: 2, EXTRA: 3 } as const;

/**
 * Daily request counts and token usage per key per UTC day, in one SQLite table. Synchronous by
 * design (better-sqlite3): when a method returns, the row is committed. It does not catch driver
 * errors; the stores around it map them to `limits_unavailable`.
 *
 * The table lives in whatever database the server passes in (the data dir's), so counts survive
 * restarts. Several processes may share the file: the admission is one `BEGIN IMMEDIATE`
 * transaction, which takes the write lock before reading, so two processes cannot both see "999"
 * and both admit.
 */
export class SqliteUsageLedger {
    readonly #admit: (keyId: string, day: string, limit: number | null) => { used: number; counted: boolean };
    readonly #selectRequests: Database.Statement<[string, string], { requests: number }>;
    readonly #refund: Database.Statement<[string, string]>;
    readonly #record: Database.Statement<[string, string, number, number]>;
    readonly #listOne: Database.Statement<[string, string], UsageRow>;
    readonly #listAll: Database.Statement<[string], UsageRow>;
    /** Today's request count per key, as this connection last read or wrote it; `peek` runs on every request. */
    readonly #counts: DataVersionCache<number>;

    constructor(db: Database.Database, options: SqliteUsageLedgerOptions = {}) {
        applyDurabilityPragmas(db, options.synchronous ?? "NORMAL");
        migrateSchema(db, "usage", usageSchema);
        this.#selectRequests = db.prepare("SELECT requests FROM limit_usage WHERE key_id = ? AND day = ?");
        this.#counts = new DataVersionCache(SqliteDataVersion.of(db));
        const increment = db.prepare<[string, string], { requests: number }>(
            `INSERT INTO limit_usage (key_id, day, requests) VALUES (?, ?, 1)
             ON CONFLICT (key_id, day) DO UPDATE SET requests = requests + 1 RETURNING requests`
        );
        const admit = db.transaction((keyId: string, day: string, limit: number | null) => {
            const used = this.#selectRequests.get(keyId, day)?.requests ?? 0;
            if (limit !== null && used >= limit) return { used, counted: false };
            const after = increment.get(keyId, day);
            return { used: after?.requests ?? used + 1, counted: true };
        });
        // IMMEDIATE: take the write lock before the read, or two processes could read the same count.
        this.#admit = (keyId, day, limit) => admit.immediate(keyId, day, limit);
        this.#refund = db.prepare("UPDATE limit_usage SET requests = requests - 1 WHERE key_id = ? AND day = ? AND requests > 0");
        this.#record = db.prepare(
            `INSERT INTO limit_usage (key_id, day, prompt_tokens, completion_tokens) VALUES (?, ?, ?, ?)
             ON CONFLICT (key_id, day) DO UPDATE SET
                prompt_tokens = prompt_tokens + excluded.prompt_tokens,
                completion_tokens = completion_tokens + excluded.completion_tokens`
        );
        const columns = "key_id, day, requests, prompt_tokens, completion_tokens";
        this.#listOne = db.prepare(`SELECT ${columns} FROM limit_usage WHERE key_id = ? AND day = ?`);
        this.#listAll = db.prepare(`SELECT ${columns} FROM limit_usage WHERE day = ? ORDER BY key_id`);
    }

    /** Counts one request if it fits today's quota; committed when this returns. */
    admit(keyId: string, limits: Readonly<KeyLimits>, nowMs: number): DailyDecision {
        const limit = limits.unlimited ? null : limits.daily;
        const day = utcDay(nowMs);
        const key = countKey(keyId, day);
        // Read before the write, so a commit by another process in between is seen as a change.
        this.#counts.get(key);
        const { used, counted } = this.#admit(keyId, day, limit);
        this.#counts.set(key, used);
        return dailyDecision(limits, used, counted, nowMs);
    }

    peek(keyId: string, limits: Readonly<KeyLimits>, nowMs: number): DailyDecision {
        const day = utcDay(nowMs);
        const key = countKey(keyId, day);
        let used = this.#counts.get(key);
        if (used === undefined) {
            used = this.#selectRequests.get(keyId, day)?.requests ?? 0;
            this.#counts.set(key, used);
        }
        return dailyDecision(limits, used, false, nowMs);
    }

    refund(keyId: string, day: string): void {
        this.#refund.run(keyId, day);
        this.#counts.delete(countKey(keyId, day));
    }

    record(keyId: string, usage: Readonly<TokenUsage>, nowMs: number): void {
        this.#record.run(keyId, utcDay(nowMs), usage.promptTokens, usage.completionTokens);
    }

    list(keyId: string | null, day: string): UsageRecord[] {
        const rows = keyId === null ? this.#listAll.all(day) : this.#listOne.all(keyId, day);
        return rows.map((row) => ({
            keyId: row.key_id,
            day: row.day,
            requests: row.requests,
            promptTokens: row.prompt_tokens,
            completionTokens: row.completion_tokens,
            totalTokens: row.prompt_tokens + row.completion_tokens
        }));
    }
}

function countKey(keyId: string, day: string): string {
    return `${keyId}\u0000${day}`;
}

interface UsageRow {
    key_id: string;
    day: string;
    requests: number;
    prompt_tokens: number;
    completion_tokens: number;
}

function applyDurabilityPragmas(db: Database.Database, synchronous: "NORMAL" | "FULL"): void {
    // An in-memory database (tests) has no WAL; asking for one is a no-op there.
    if (!db.memory) db.pragma("journal_mode = WAL");
    const current = Number(db.pragma("synchronous", { simple: true }));
    if (current < SYNCHRONOUS_LEVELS[synchronous]) db.pragma(`synchronous = ${synchronous}`);
}
