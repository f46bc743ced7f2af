import { timingSafeEqual } from "node:crypto";
import type Database from "better-sqlite3";
import type { Scope } from "../config/ConfigFileSchema.js";
import type { ApiKeyRecord, CreateKeyInput, StoredKeyLimits, KeyPatch, KeyStore } from "./ApiKey.js";
import { hashSecret, keyPrefix, newKeyId, newSecret } from "./keySecrets.js";
import { DataVersionCache, SqliteDataVersion } from "./SqliteDataVersion.js";

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
}

/**
 * Keys in the data dir's SQLite database, found by the SHA-256 of the secret. Found keys are
 * cached by that hash until any other connection commits (see {@link SqliteDataVersion}), so a
 * key created, changed or revoked by the CLI still takes effect on the next request, while a
 * steady client costs one pragma read instead of a row lookup. Unknown secrets are not cached.
 */
export class SqliteKeyStore implements KeyStore {
    private readonly byHash: Database.Statement<[string], Row>;
    private readonly found: DataVersionCache<ApiKeyRecord>;

    constructor(private readonly db: Database.Database) {
        db.exec(`CREATE TABLE IF NOT EXISTS api_keys (
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
        )`);
        this.byHash = db.prepare("SELECT * FROM api_keys WHERE hash = ? AND revoked_at IS NULL");
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
            unlimited: limits.unlimited ? 1 : 0
        };
        this.db
            .prepare(
                `INSERT INTO api_keys (id, name, prefix, hash, scopes, created_at, revoked_at, rps, burst, daily, unlimited)
                 VALUES (@id, @name, @prefix, @hash, @scopes, @created_at, @revoked_at, @rps, @burst, @daily, @unlimited)`
            )
            .run(row);
        return { record: toRecord(row), secret };
    }

    async list(): Promise<ApiKeyRecord[]> {
        return this.db.prepare<[], Row>("SELECT * FROM api_keys ORDER BY created_at, id").all().map(toRecord);
    }

    async get(id: string): Promise<ApiKeyRecord | undefined> {
        const row = this.db.prepare<[string], Row>("SELECT * FROM api_keys WHERE id = ?").get(id);
        return row && toRecord(row);
    }

    async update(id: string, patch: KeyPatch): Promise<ApiKeyRecord | undefined> {
        const current = await this.get(id);
        if (!current) return undefined;
        const limits: StoredKeyLimits = { ...current.limits, ...patch.limits };
        this.db
            .prepare("UPDATE api_keys SET name = ?, scopes = ?, rps = ?, burst = ?, daily = ?, unlimited = ? WHERE id = ?")
            .run(patch.name ?? current.name, [...new Set(patch.scopes ?? current.scopes)].join(","), limits.rps, limits.burst, limits.daily, limits.unlimited ? 1 : 0, id);
        this.found.clear();
        return this.get(id);
    }

    async revoke(id: string): Promise<boolean> {
        const result = this.db.prepare("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?").run(new Date().toISOString(), id);
        this.found.clear();
        return result.changes > 0;
    }

    async authenticate(secret: string): Promise<ApiKeyRecord | undefined> {
        if (!secret.startsWith(keyPrefix) || secret.length > 128) return undefined;
        const hash = hashSecret(secret);
        // Keyed by the hash, never the secret: timing of this lookup can tell nothing about a secret.
        const cached = this.found.get(hash);
        if (cached) return cached;
        const row = this.byHash.get(hash);
        // The lookup is by hash already; the constant-time compare keeps timing independent of the stored value.
        if (!row || !timingSafeEqual(Buffer.from(row.hash), Buffer.from(hash))) return undefined;
        const record = Object.freeze(toRecord(row));
        this.found.set(hash, record);
        return record;
    }

    async dispose(): Promise<void> {}
}

function toRecord(row: Row): ApiKeyRecord {
    return {
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        scopes: row.scopes.split(",").filter(Boolean) as Scope[],
        createdAt: row.created_at,
        revokedAt: row.revoked_at,
        limits: { rps: row.rps, burst: row.burst, daily: row.daily, unlimited: row.unlimited === 1 }
    };
}
