import { timingSafeEqual } from "node:crypto";
import type { Redis } from "ioredis";
import type { Scope } from "../config/ConfigFileSchema.js";
import { connectRedis } from "../storage/connectRedis.js";
import { storeUnavailableError } from "../storage/storeUnavailableError.js";
import { lastUsedResolutionMs, type ApiKeyRecord, type CreateKeyInput, type StoredKeyLimits, type KeyPatch, type KeyStore } from "./ApiKey.js";
import { hashSecret, keyPrefix, newKeyId, newSecret } from "./keySecrets.js";

/**
 * Keys in Redis, so every replica (and `quandex keys --redis-url`) sees the same records at once.
 * Layout under the prefix: `key:<id>` a hash per key, `hash:<sha256>` → id, `ids` a set of ids.
 * Create, rotate and revoke are MULTI transactions so the index never points at a missing record.
 * A rotated key's old `hash:` entry is given a TTL of the grace period, so Redis itself retires it.
 * Redis being down fails closed: authentication answers 503 `limits_unavailable`, never "allow".
 */
export class RedisKeyStore implements KeyStore {
    /** When this process last wrote each key's `last_used_at`, in ms. */
    private readonly lastWritten = new Map<string, number>();

    private constructor(
        private readonly redis: Redis,
        private readonly prefix: string,
        private readonly owned: boolean,
        private readonly clock: () => number = Date.now
    ) {}

    /** `clock` (ms since the epoch) decides expiry and grace; tests move it. */
    static async connect(url: string, options: { prefix?: string; commandTimeoutMs?: number; clock?: () => number } = {}): Promise<RedisKeyStore> {
        const redis = await connectRedis(url, { commandTimeoutMs: options.commandTimeoutMs });
        return new RedisKeyStore(redis, options.prefix ?? "quandex:keys:", true, options.clock);
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
            limits: { rps: null, burst: null, daily: null, unlimited: false, ...input.limits },
            expiresAt: input.expiresAt ?? null,
            lastUsedAt: null,
            previousSecretExpiresAt: null
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
        return fields.id ? fromFields(fields, this.clock()) : undefined;
    }

    async update(id: string, patch: KeyPatch): Promise<ApiKeyRecord | undefined> {
        const current = await this.get(id);
        if (!current) return undefined;
        const next: ApiKeyRecord = {
            ...current,
            name: patch.name ?? current.name,
            scopes: [...new Set(patch.scopes ?? current.scopes)],
            limits: { ...current.limits, ...patch.limits },
            expiresAt: patch.expiresAt === undefined ? current.expiresAt : patch.expiresAt
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
                .del(this.k(`hash:${fields.hash ?? ""}`), this.k(`hash:${fields.prev_hash || "none"}`))
                .exec()
        );
        return true;
    }

    async rotate(id: string, graceMs: number): Promise<{ record: ApiKeyRecord; secret: string } | undefined> {
        const fields = await this.run(() => this.redis.hgetall(this.k(`key:${id}`)));
        if (!fields.id || fields.revoked_at || !fields.hash) return undefined;
        const secret = newSecret();
        const hash = hashSecret(secret);
        const grace = graceMs > 0;
        const transaction = this.redis
            .multi()
            .hset(this.k(`key:${id}`), {
                hash,
                prefix: secret.slice(0, keyPrefix.length + 6),
                prev_hash: grace ? fields.hash : "",
                prev_expires_at: grace ? new Date(this.clock() + graceMs).toISOString() : ""
            })
            .set(this.k(`hash:${hash}`), id);
        // Only one old secret works at a time: an earlier rotation's ends now.
        if (fields.prev_hash) transaction.del(this.k(`hash:${fields.prev_hash}`));
        if (grace) transaction.pexpire(this.k(`hash:${fields.hash}`), Math.ceil(graceMs));
        else transaction.del(this.k(`hash:${fields.hash}`));
        await this.run(() => transaction.exec());
        return { record: (await this.get(id))!, secret };
    }

    async authenticate(secret: string): Promise<ApiKeyRecord | undefined> {
        if (!secret.startsWith(keyPrefix) || secret.length > 128) return undefined;
        const hash = hashSecret(secret);
        const id = await this.run(() => this.redis.get(this.k(`hash:${hash}`)));
        if (!id) return undefined;
        const fields = await this.run(() => this.redis.hgetall(this.k(`key:${id}`)));
        if (!fields.id || fields.revoked_at) return undefined;
        const now = this.clock();
        const current = fields.hash !== undefined && fields.hash.length === hash.length && timingSafeEqual(Buffer.from(fields.hash), Buffer.from(hash));
        const previous =
            !current &&
            fields.prev_hash !== undefined &&
            fields.prev_hash.length === hash.length &&
            timingSafeEqual(Buffer.from(fields.prev_hash), Buffer.from(hash)) &&
            Date.parse(fields.prev_expires_at ?? "") > now;
        if (!current && !previous) return undefined;
        if (fields.expires_at && Date.parse(fields.expires_at) <= now) return undefined;
        const last = this.lastWritten.get(id) ?? (fields.last_used_at ? Date.parse(fields.last_used_at) : -Infinity);
        if (now - last >= lastUsedResolutionMs) {
            this.lastWritten.set(id, now);
            // Not awaited: recording the use must not delay or fail the request it belongs to.
            this.redis.hset(this.k(`key:${id}`), "last_used_at", new Date(now).toISOString()).catch(() => this.lastWritten.delete(id));
        }
        return fromFields(fields, now);
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
            throw storeUnavailableError("Redis", error);
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
        unlimited: limits.unlimited ? "1" : "0",
        expires_at: record.expiresAt ?? ""
    };
}

function fromFields(fields: Record<string, string>, now: number): ApiKeyRecord {
    const num = (value: string | undefined): number | null => (value === undefined || value === "" ? null : Number(value));
    return {
        id: fields.id!,
        name: fields.name ?? "",
        prefix: fields.prefix ?? "",
        scopes: (fields.scopes ?? "").split(",").filter(Boolean) as Scope[],
        createdAt: fields.created_at ?? "",
        revokedAt: fields.revoked_at ? fields.revoked_at : null,
        limits: { rps: num(fields.rps), burst: num(fields.burst), daily: num(fields.daily), unlimited: fields.unlimited === "1" },
        expiresAt: fields.expires_at ? fields.expires_at : null,
        lastUsedAt: fields.last_used_at ? fields.last_used_at : null,
        previousSecretExpiresAt: fields.prev_hash && fields.prev_expires_at && Date.parse(fields.prev_expires_at) > now ? fields.prev_expires_at : null
    };
}
