import type Database from "better-sqlite3";
import type { ServerConfig } from "./config/ServerConfig.js";
import type { KeyStore } from "./keys/ApiKey.js";
import { RedisKeyStore } from "./keys/RedisKeyStore.js";
import { SqliteKeyStore } from "./keys/SqliteKeyStore.js";
import type { AuthFailureLimiter } from "./limits/AuthFailureLimiter.js";
import { resolveKeyLimits, type KeyLimits } from "./limits/KeyLimits.js";
import type { LimitStore } from "./limits/LimitStore.js";
import type { LimitsLogger } from "./limits/LimitsLogger.js";
import { MemoryAuthFailureLimiter } from "./limits/MemoryAuthFailureLimiter.js";
import { MemoryLimitStore } from "./limits/MemoryLimitStore.js";
import { RedisAuthFailureLimiter } from "./limits/RedisAuthFailureLimiter.js";
import { RedisLimitStore } from "./limits/RedisLimitStore.js";
import type { AuditLog } from "./storage/AuditLog.js";
import { RedisAuditLog } from "./storage/RedisAuditLog.js";
import { SqliteAuditLog } from "./storage/SqliteAuditLog.js";

export interface Stores {
    keys: KeyStore;
    limitStore: LimitStore;
    authFailures: AuthFailureLimiter;
    /** Admin actions, kept where the keys are. */
    audit: AuditLog;
    dispose(): Promise<void>;
}

/** The server-wide limit defaults from config, validated (an invalid value stops the boot). */
export function limitDefaults(config: ServerConfig): KeyLimits {
    return resolveKeyLimits({ rps: config.limits.defaultRps, burst: config.limits.defaultBurst, daily: config.limits.defaultDaily, unlimited: false });
}

/**
 * Embedded (SQLite keys, in-memory buckets, SQLite daily counts and usage) without a Redis URL;
 * everything in Redis with one, so replicas share keys, buckets, quotas and usage.
 */
export async function createStores(config: ServerConfig, db: Database.Database, logger: LimitsLogger): Promise<Stores> {
    const authOptions = { maxFailures: config.limits.authFailuresPerMinute, windowMs: 60_000 };
    if (!config.redisUrl) {
        const limitStore = new MemoryLimitStore({ db });
        const authFailures = new MemoryAuthFailureLimiter(authOptions);
        return {
            keys: new SqliteKeyStore(db),
            limitStore,
            audit: new SqliteAuditLog(db),
            authFailures,
            async dispose() {
                await authFailures.dispose();
                await limitStore.dispose();
            }
        };
    }
    const limitStore = await RedisLimitStore.create({ url: config.redisUrl, failOpen: config.limits.redisUnavailable === "fail_open", logger });
    let keys: RedisKeyStore;
    try {
        keys = await RedisKeyStore.connect(config.redisUrl);
    } catch (error) {
        await limitStore.dispose();
        throw error;
    }
    let audit: RedisAuditLog;
    try {
        audit = await RedisAuditLog.connect(config.redisUrl);
    } catch (error) {
        await keys.dispose();
        await limitStore.dispose();
        throw error;
    }
    const authFailures = new RedisAuthFailureLimiter(limitStore, { ...authOptions, logger });
    return {
        keys,
        limitStore,
        authFailures,
        audit,
        async dispose() {
            await authFailures.dispose();
            await audit.dispose();
            await keys.dispose();
            await limitStore.dispose();
        }
    };
}
