import { timingSafeEqual } from "node:crypto";
import type Database from "better-sqlite3";
import type { Scope } from "../config/ConfigFileSchema.js";
import { lastUsedResolutionMs, type ApiKeyRecord, type CreateKeyInput, type StoredKeyLimits, type KeyPatch, type KeyStore } from "./ApiKey.js";
import { hashSecret, keyPrefix, newKeyId, newSecret } from "./keySecrets.js";
import { migrateSchema } from "../storage/migrateSchema.js";
import { DataVersionCache, SqliteDataVersion } from "../storage/SqliteDataVersion.js";

/** The `api_keys` table's migrations (see `storage/migrateSchema.ts`); append, never edit. */
const keySchema = [
    `CREATE TABLE IF NOT EXISTS api_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            prefix TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE,
            scopes TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT,
            rps REAL,
            burst INTEGER,
            daily INTEGER,
            unlimited INTEGER NOT NULL DEFAULT 0
        )`,
    // Expiry, last use, and rotation: the secret a rotation replaced works until previous_expires_at.
    `ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
     ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;
     ALTER TABLE api_keys ADD COLUMN previous_hash TEXT;
     ALTER TABLE api_keys ADD COLUMN previous_expires_at TEXT;
     CREATE UNIQUE INDEX api_keys_previous_hash ON api_keys (previous_hash)`
];

interface Row {
    id: string;
    name: string;
    prefix: string;
    hash: string;
    scopes: string;
    created_at: string;
    revoked_at: string | null;
    rps: number | null;
    burst: number | null;
    daily: number | null;
    unlimited: number;
    expires_at: string | null;
    last_used_at: string | null;
    previous_hash: string | null;
    previous_expires_at: string | null;
}

/** A found key and the moment it stops being valid for the secret it was found by (expiry, or the end of a rotation's grace). */
interface Found {
    record: ApiKeyRecord;
    validUntilMs: number;
}

/**
 * Keys in the data dir's SQLite database, found by the SHA-256 of the secret. Found keys are
 * cached by that hash until any other connection commits (see {@link SqliteDataVersion}), so a
 * key created, changed or revoked by the CLI still takes effect on the next request, while a
 * steady client costs one pragma read instead of a row lookup. Unknown secrets are not cached.
 */
export class SqliteKeyStore implements KeyStore {
    private readonly byHash: Database.Statement<[string], Row>;
    private readonly byPreviousHash: Database.Statement<[string], Row>;
    private readonly touchStatement: Database.Statement<[string, string]>;
    private readonly found: DataVersionCache<Found>;
    /** When this process last wrote each key's `last_used_at`, in ms. */
    private readonly lastWritten = new Map<string, number>();

    constructor(
        private readonly db: Database.Database,
        private readonly clock: () => number = Date.now
    ) {
        migrateSchema(db, "keys", keySchema);
        this.byHash = db.prepare("SELECT * FROM api_keys WHERE hash = ? AND revoked_at IS NULL");
        this.byPreviousHash = db.prepare("SELECT * FROM api_keys WHERE previous_hash = ? AND revoked_at IS NULL");
        this.touchStatement = db.prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?");
        this.found = new DataVersionCache(SqliteDataVersion.of(db));
    }

    async create(input: CreateKeyInput): Promise<{ record: ApiKeyRecord; secret: string }> {
        const secret = newSecret();
        const limits = { rps: null, burst: null, daily: null, unlimited: false, ...input.limits };
        const row: Row = {
            id: newKeyId(),
            name: input.name,
            prefix: secret.slice(0, keyPrefix.length + 6),
            hash: hashSecret(secret),
            scopes: [...new Set(input.scopes)].join(","),
            created_at: new Date().toISOString(),
            revoked_at: null,
            rps: limits.rps,
            burst: limits.burst,
            daily: limits.daily,
            unlimited: limits.unlimited ? 1 : 0,
            expires_at: input.expiresAt ?? null,
            last_used_at: null,
            previous_hash: null,
            previous_expires_at: null
        };
        this.db
            .prepare(
                `INSERT INTO api_keys (id, name, prefix, hash, scopes, created_at, revoked_at, rps, burst, daily, unlimited, expires_at)
                 VALUES (@id, @name, @prefix, @hash, @scopes, @created_at, @revoked_at, @rps, @burst, @daily, @unlimited, @expires_at)`
            )
            .run(row);
        return { record: toRecord(row, this.clock()), secret };
    }

    async list(): Promise<ApiKeyRecord[]> {
        const now = this.clock();
        return this.db
            .prepare<[], Row>("SELECT * FROM api_keys ORDER BY created_at, id")
            .all()
            .map((row) => toRecord(row, now));
    }

    async get(id: string): Promise<ApiKeyRecord | undefined> {
        const row = this.db.prepare<[string], Row>("SELECT * FROM api_keys WHERE id = ?").get(id);
        return row && toRecord(row, this.clock());
    }

    async update(id: string, patch: KeyPatch): Promise<ApiKeyRecord | undefined> {
        const current = await this.get(id);
        if (!current) return undefined;
        const limits: StoredKeyLimits = { ...current.limits, ...patch.limits };
        this.db
            .prepare("UPDATE api_keys SET name = ?, scopes = ?, rps = ?, burst = ?, daily = ?, unlimited = ?, expires_at = ? WHERE id = ?")
            .run(
                patch.name ?? current.name,
                [...new Set(patch.scopes ?? current.scopes)].join(","),
                limits.rps,
                limits.burst,
                limits.daily,
                limits.unlimited ? 1 : 0,
                patch.expiresAt === undefined ? current.expiresAt : patch.expiresAt,
                id
            );
        this.found.clear();
        return this.get(id);
    }

    async revoke(id: string): Promise<boolean> {
        const result = this.db.prepare("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?").run(new Date().toISOString(), id);
        this.found.clear();
        return result.changes > 0;
    }

    async rotate(id: string, graceMs: number): Promise<{ record: ApiKeyRecord; secret: string } | undefined> {
        const secret = newSecret();
        const now = this.clock();
        const grace = graceMs > 0;
        // One statement: the old hash moves to previous_hash (dropping any earlier one) as the new one lands.
        const result = this.db
            .prepare(
                `UPDATE api_keys SET previous_hash = CASE WHEN @grace THEN hash ELSE NULL END, previous_expires_at = @until, hash = @hash, prefix = @prefix
                 WHERE id = @id AND revoked_at IS NULL`
            )
            .run({
                id,
                grace: grace ? 1 : 0,
                until: grace ? new Date(now + graceMs).toISOString() : null,
                hash: hashSecret(secret),
                prefix: secret.slice(0, keyPrefix.length + 6)
            });
        this.found.clear();
        if (result.changes === 0) return undefined;
        return { record: (await this.get(id))!, secret };
    }

    async authenticate(secret: string): Promise<ApiKeyRecord | undefined> {
        if (!secret.startsWith(keyPrefix) || secret.length > 128) return undefined;
        const hash = hashSecret(secret);
        const now = this.clock();
        // Keyed by the hash, never the secret: timing of this lookup can tell nothing about a secret.
        const cached = this.found.get(hash);
        if (cached) return this.accept(cached, now);
        const current = this.byHash.get(hash);
        // Which lookup found it says which secret was sent; the hashes themselves are compared only below.
        const previous = current === undefined;
        const row = current ?? this.byPreviousHash.get(hash);
        if (!row) return undefined;
        const stored = previous ? row.previous_hash : row.hash;
        // The lookup is by hash already; the constant-time compare keeps timing independent of the stored value.
        if (stored === null || !timingSafeEqual(Buffer.from(stored), Buffer.from(hash))) return undefined;
        const validUntilMs = Math.min(
            row.expires_at === null ? Infinity : Date.parse(row.expires_at),
            previous ? (row.previous_expires_at === null ? -Infinity : Date.parse(row.previous_expires_at)) : Infinity
        );
        const found: Found = { record: Object.freeze(toRecord(row, now)), validUntilMs };
        this.found.set(hash, found);
        return this.accept(found, now);
    }

    /** A found key while it is valid, recording its use at most once a minute (the cached record keeps its older `lastUsedAt`). */
    private accept(found: Found, now: number): ApiKeyRecord | undefined {
        if (now >= found.validUntilMs) return undefined;
        const { id, lastUsedAt } = found.record;
        const last = this.lastWritten.get(id) ?? (lastUsedAt === null ? -Infinity : Date.parse(lastUsedAt));
        if (now - last >= lastUsedResolutionMs) {
            this.lastWritten.set(id, now);
            this.touchStatement.run(new Date(now).toISOString(), id);
        }
        return found.record;
    }

    async dispose(): Promise<void> {}
}

function toRecord(row: Row, now: number): ApiKeyRecord {
    return {
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        scopes: row.scopes.split(",").filter(Boolean) as Scope[],
        createdAt: row.created_at,
        revokedAt: row.revoked_at,
        limits: { rps: row.rps, burst: row.burst, daily: row.daily, unlimited: row.unlimited === 1 },
        expiresAt: row.expires_at,
        lastUsedAt: row.last_used_at,
        previousSecretExpiresAt: row.previous_hash !== null && row.previous_expires_at !== null && Date.parse(row.previous_expires_at) > now ? row.previous_expires_at : null
    };
}
