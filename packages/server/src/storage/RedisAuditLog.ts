import type { Redis } from "ioredis";
import type { AuditEntry, AuditLog, AuditPage, NewAuditEntry } from "./AuditLog.js";
import { connectRedis } from "./connectRedis.js";
import { storeUnavailableError } from "./storeUnavailableError.js";

/**
 * The audit log in Redis, where the keys are when replicas share them. Layout under the prefix:
 * `seq` the last id (INCR, so replicas never hand out the same one), `entries` a sorted set of
 * JSON entries scored by id, `latest:<action>` the newest entry of each action.
 */
export class RedisAuditLog implements AuditLog {
    private constructor(
        private readonly redis: Redis,
        private readonly prefix: string
    ) {}

    static async connect(url: string, options: { prefix?: string; commandTimeoutMs?: number } = {}): Promise<RedisAuditLog> {
        const redis = await connectRedis(url, { commandTimeoutMs: options.commandTimeoutMs });
        return new RedisAuditLog(redis, options.prefix ?? "quandex:audit:");
    }

    async record(entry: NewAuditEntry): Promise<AuditEntry> {
        const id = await this.run(() => this.redis.incr(this.k("seq")));
        const stored: AuditEntry = { ...entry, id, at: entry.at ?? new Date().toISOString() };
        const json = JSON.stringify(stored);
        await this.run(() =>
            this.redis
                .multi()
                .zadd(this.k("entries"), id, json)
                .set(this.k(`latest:${entry.action}`), json)
                .exec()
        );
        return stored;
    }

    async list(options: { limit: number; before?: number }): Promise<AuditPage> {
        const max = options.before === undefined ? "+inf" : `(${options.before}`;
        const members = await this.run(() => this.redis.zrevrangebyscore(this.k("entries"), max, "-inf", "LIMIT", 0, options.limit + 1));
        const entries = members.slice(0, options.limit).map((json) => JSON.parse(json) as AuditEntry);
        return { entries, nextBefore: members.length > options.limit ? entries[entries.length - 1]!.id : null };
    }

    async latest(action: string): Promise<AuditEntry | undefined> {
        const json = await this.run(() => this.redis.get(this.k(`latest:${action}`)));
        return json ? (JSON.parse(json) as AuditEntry) : undefined;
    }

    async dispose(): Promise<void> {
        this.redis.disconnect();
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
