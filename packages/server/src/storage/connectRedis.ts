import { Redis, type RedisOptions } from "ioredis";
import { failFastRedisOptions } from "./failFastRedisOptions.js";
import { storeUnavailableError } from "./storeUnavailableError.js";

export interface ConnectRedisOptions {
    /** How long one command may take before it fails. Defaults to `1000` ms. */
    commandTimeoutMs?: number;
    /** Extra ioredis options (tests shorten timeouts); the fail-fast ones apply unless overridden. */
    redisOptions?: RedisOptions;
    /** Called on the connection before it connects, e.g. to define Lua scripts. */
    prepare?: (redis: Redis) => void;
}

/**
 * One connected Redis client with the fail-fast options every store uses: a wrong URL fails here
 * (so the boot stops), later outages fail per command within the timeout while the client keeps
 * reconnecting.
 * @throws QuandexError `limits_unavailable` when Redis cannot be reached now.
 */
export async function connectRedis(url: string, options: ConnectRedisOptions = {}): Promise<Redis> {
    const redis = new Redis(url, { ...failFastRedisOptions(options.commandTimeoutMs ?? 1000), ...options.redisOptions, lazyConnect: true });
    // Each failed command already rejects (and becomes 503 `limits_unavailable`), and stores log the
    // loss once; without a listener ioredis prints every reconnect failure, twice a second.
    redis.on("error", () => undefined);
    options.prepare?.(redis);
    try {
        await redis.connect();
    } catch (error) {
        redis.disconnect();
        throw storeUnavailableError("Redis", error);
    }
    return redis;
}
