import type Database from "better-sqlite3";
import type { ServerConfig } from "../config/ServerConfig.js";
import type { KeyStore } from "../keys/ApiKey.js";
import { RedisKeyStore } from "../keys/RedisKeyStore.js";
import { SqliteKeyStore } from "../keys/SqliteKeyStore.js";
import type { AuthFailureLimiter } from "./AuthFailureLimiter.js";
import { resolveKeyLimits, type KeyLimits } from "./KeyLimits.js";
import type { LimitStore } from "./LimitStore.js";
import type { LimitsLogger } from "./LimitsLogger.js";
import { MemoryAuthFailureLimiter } from "./MemoryAuthFailureLimiter.js";
import { MemoryLimitStore } from "./MemoryLimitStore.js";
import { RedisAuthFailureLimiter } from "./RedisAuthFailureLimiter.js";
import { RedisLimitStore } from "./RedisLimitStore.js";

export interface LimitStores {
    keys: KeyStore;
    limitStore: LimitStore;
    authFailures: AuthFailureLimiter;
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
export async function createLimitStores(config: ServerConfig, db: Database.Database, logger: LimitsLogger): Promise<LimitStores> {
    const authOptions = { maxFailures: config.limits.authFailuresPerMinute, windowMs: 60_000 };
    if (!config.redisUrl) {
        const limitStore = new MemoryLimitStore({ db });
        const authFailures = new MemoryAuthFailureLimiter(authOptions);
        return {
            keys: new SqliteKeyStore(db),
            limitStore,
            authFailures,
            async dispose() {
                await authFailures.dispose();
                await limitStore.dispose();
            }
        };
    }
    const limitStore = await RedisLimitStore.create({ url: config.redisUrl, failOpen: config.limits.failOpen, logger });
    let keys: RedisKeyStore;
    try {
        keys = await RedisKeyStore.connect(config.redisUrl);
    } catch (error) {
        await limitStore.dispose();
        throw error;
    }
    const authFailures = new RedisAuthFailureLimiter(limitStore, { ...authOptions, logger });
    return {
        keys,
        limitStore,
        authFailures,
        async dispose() {
            await authFailures.dispose();
            await keys.dispose();
            await limitStore.dispose();
        }
    };
}
