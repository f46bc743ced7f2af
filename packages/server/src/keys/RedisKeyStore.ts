import { timingSafeEqual } from "node:crypto";
import { Redis } from "ioredis";
import type { Scope } from "../config/ConfigFileSchema.js";
import { failFastRedisOptions } from "../limits/failFastRedisOptions.js";
import { limitsUnavailableError } from "../limits/limitErrors.js";
import type { ApiKeyRecord, CreateKeyInput, StoredKeyLimits, KeyPatch, KeyStore } from "./ApiKey.js";
import { hashSecret, keyPrefix, newKeyId, newSecret } from "./keySecrets.js";

/**
 * Keys in Redis, so every replica (and `quandex keys --redis-url`) sees the same records at once.
 * Layout under the prefix: `key:<id>` a hash per key, `hash:<sha256>` → id, `ids` a set of ids.
 * Create and revoke are MULTI transactions so the index never points at a missing record.
 * Redis being down fails closed: authentication answers 503 `limits_unavailable`, never "allow".
 */
export class RedisKeyStore implements KeyStore {
    private constructor(
        private readonly redis: Redis,
        private readonly prefix: string,
        private readonly owned: boolean
    ) {}

    static async connect(url: string, options: { prefix?: string; commandTimeoutMs?: number } = {}): Promise<RedisKeyStore> {
        const redis = new Redis(url, failFastRedisOptions(options.commandTimeoutMs ?? 1000));
        try {
            await redis.connect();
        } catch (error) {
            redis.disconnect();
            throw limitsUnavailableError("Redis", error);
        }
        return new RedisKeyStore(redis, options.prefix ?? "quandex:keys:", true);
    }

    async create(input: CreateKeyInput): Promise<{ record: ApiKeyRecord; secret: string }> {
        const secret = newSecret();
        const record: ApiKeyRecord = {
            id: newKeyId(),
            name: input.name,
            prefix: secret.slice(0, keyPrefix.length + 6),
            scopes: [...new Set(input.scopes)],
            createdAt: new Date().toISOString(),
            revokedAt: null,
            limits: { rps: null, burst: null, daily: null, unlimited: false, ...input.limits }
        };
        const hash = hashSecret(secret);
        await this.run(() =>
            this.redis
                .multi()
                .hset(this.k(`key:${record.id}`), { ...toFields(record), hash })
                .set(this.k(`hash:${hash}`), record.id)
                .sadd(this.k("ids"), record.id)
                .exec()
        );
        return { record, secret };
    }

    async list(): Promise<ApiKeyRecord[]> {
        const ids = await this.run(() => this.redis.smembers(this.k("ids")));
        const records = await Promise.all(ids.map((id) => this.get(id)));
        return records.filter((r): r is ApiKeyRecord => r !== undefined).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    }

    async get(id: string): Promise<ApiKeyRecord | undefined> {
        const fields = await this.run(() => this.redis.hgetall(this.k(`key:${id}`)));
        return fields.id ? fromFields(fields) : undefined;
    }

    async update(id: string, patch: KeyPatch): Promise<ApiKeyRecord | undefined> {
        const current = await this.get(id);
        if (!current) return undefined;
        const next: ApiKeyRecord = {
            ...current,
            name: patch.name ?? current.name,
            scopes: [...new Set(patch.scopes ?? current.scopes)],
            limits: { ...current.limits, ...patch.limits }
        };
        await this.run(() => this.redis.hset(this.k(`key:${id}`), toFields(next)));
        return next;
    }

    async revoke(id: string): Promise<boolean> {
        const fields = await this.run(() => this.redis.hgetall(this.k(`key:${id}`)));
        if (!fields.id) return false;
        if (fields.revoked_at) return true;
        await this.run(() =>
            this.redis
                .multi()
                .hset(this.k(`key:${id}`), "revoked_at", new Date().toISOString())
                .del(this.k(`hash:${fields.hash ?? ""}`))
                .exec()
        );
        return true;
    }

    async authenticate(secret: string): Promise<ApiKeyRecord | undefined> {
        if (!secret.startsWith(keyPrefix) || secret.length > 128) return undefined;
        const hash = hashSecret(secret);
        const id = await this.run(() => this.redis.get(this.k(`hash:${hash}`)));
        if (!id) return undefined;
        const fields = await this.run(() => this.redis.hgetall(this.k(`key:${id}`)));
        if (!fields.id || fields.revoked_at || !fields.hash || !timingSafeEqual(Buffer.from(fields.hash), Buffer.from(hash))) return undefined;
        return fromFields(fields);
    }

    async dispose(): Promise<void> {
        if (this.owned) this.redis.disconnect();
    }

    private k(suffix: string): string {
        return this.prefix + suffix;
    }

    private async run<T>(command: () => Promise<T>): Promise<T> {
        try {
            return await command();
        } catch (error) {
            throw limitsUnavailableError("Redis", error);
        }
    }
}

function toFields(record: ApiKeyRecord): Record<string, string> {
    const limits: StoredKeyLimits = record.limits;
    return {
        id: record.id,
        name: record.name,
        prefix: record.prefix,
        scopes: record.scopes.join(","),
        created_at: record.createdAt,
        revoked_at: record.revokedAt ?? "",
        rps: limits.rps === null ? "" : String(limits.rps),
        burst: limits.burst === null ? "" : String(limits.burst),
        daily: limits.daily === null ? "" : String(limits.daily),
        unlimited: limits.unlimited ? "1" : "0"
    };
}

function fromFields(fields: Record<string, string>): ApiKeyRecord {
    const num = (value: string | undefined): number | null => (value === undefined || value === "" ? null : Number(value));
    return {
        id: fields.id!,
        name: fields.name ?? "",
        prefix: fields.prefix ?? "",
        scopes: (fields.scopes ?? "").split(",").filter(Boolean) as Scope[],
        createdAt: fields.created_at ?? "",
        revokedAt: fields.revoked_at ? fields.revoked_at : null,
        limits: { rps: num(fields.rps), burst: num(fields.burst), daily: num(fields.daily), unlimited: fields.unlimited === "1" }
    };
}
