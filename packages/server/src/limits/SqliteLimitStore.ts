import type Database from "better-sqlite3";
import { migrateSchema } from "../storage/migrateSchema.js";
import { LocalLimitStore, type LocalLimitStoreOptions } from "./LocalLimitStore.js";
import type { KeyLimits } from "./KeyLimits.js";
import type { RateDecision } from "./RateDecision.js";
import { takeFromBucket, type BucketState } from "./tokenBucket.js";

/** The `limit_buckets` table's migrations (see `storage/migrateSchema.ts`); append, never edit. */
const bucketSchema = [
    `CREATE TABLE IF NOT EXISTS limit_buckets (
                key_id TEXT PRIMARY KEY,
                tokens REAL NOT NULL,
                updated_ms INTEGER NOT NULL
            ) WITHOUT ROWID;`
];

export type SqliteLimitStoreOptions = LocalLimitStoreOptions;

/**
 * The embedded store for several server processes sharing one data dir: rate buckets, daily
 * counts and usage all in SQLite. Each bucket step is one `BEGIN IMMEDIATE` transaction (read,
 * refill, take, write under the database write lock), so the burst is exact across processes.
 * The processes share the machine's clock, which the bucket arithmetic relies on.
 *
 * A step costs a write transaction even when it refuses; that is the price of exactness across
 * processes. A single process should prefer {@link MemoryLimitStore}.
 */
export class SqliteLimitStore extends LocalLimitStore {
    readonly #take: (keyId: string, limits: Readonly<KeyLimits>, nowMs: number, cost: 0 | 1) => RateDecision;

    constructor(options: SqliteLimitStoreOptions) {
        super(options);
        const db: Database.Database = options.db;
        migrateSchema(db, "buckets", bucketSchema);
        const select = db.prepare<[string], { tokens: number; updated_ms: number }>("SELECT tokens, updated_ms FROM limit_buckets WHERE key_id = ?");
        const upsert = db.prepare<[string, number, number]>(
            `INSERT INTO limit_buckets (key_id, tokens, updated_ms) VALUES (?, ?, ?)
             ON CONFLICT (key_id) DO UPDATE SET tokens = excluded.tokens, updated_ms = excluded.updated_ms`
        );
        const step = db.transaction((keyId: string, limits: Readonly<KeyLimits>, nowMs: number, cost: 0 | 1) => {
            const row = select.get(keyId);
            const stored: BucketState | undefined = row && { tokens: row.tokens, updatedMs: row.updated_ms };
            const { state, decision } = takeFromBucket(stored, limits, nowMs, cost);
            if (cost === 1) upsert.run(keyId, state.tokens, state.updatedMs);
            return decision;
        });
        // A peek only reads, so it needs no write lock; a take must lock before it reads.
        this.#take = (keyId, limits, nowMs, cost) => (cost === 0 ? step.deferred(keyId, limits, nowMs, cost) : step.immediate(keyId, limits, nowMs, cost));
    }

    protected override takeRate(keyId: string, limits: Readonly<KeyLimits>, nowMs: number, cost: 0 | 1): RateDecision {
        return this.#take(keyId, limits, nowMs, cost);
    }
}
