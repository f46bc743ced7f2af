import { QuandexError } from "@quandex/protocol";
import type { Redis, RedisOptions } from "ioredis";
import { dailyDecision, type DailyDecision } from "./DailyDecision.js";
import type { KeyLimits } from "./KeyLimits.js";
import { connectRedis } from "../storage/connectRedis.js";
import { storeUnavailableError } from "../storage/storeUnavailableError.js";
import type { LimitStore } from "./LimitStore.js";
import { consoleLimitsLogger, type LimitsLogger } from "./LimitsLogger.js";
import { unlimitedRateDecision, type RateDecision } from "./RateDecision.js";
import { DAILY_SCRIPT, RATE_SCRIPT, REFUND_SCRIPT, USAGE_SCRIPT } from "./redisScripts.js";
import { bucketDecision } from "./tokenBucket.js";
import { assertValidTokenUsage, type TokenUsage, type UsageRecord } from "./UsageRecord.js";
import { epochDayToUtcDay, parseUtcDay, secondsUntilUtcMidnight, utcDay, utcEpochDay } from "./utcDay.js";

export interface RedisLimitStoreOptions {
    /** Where Redis is, e.g. `redis://:password@host:6379/0`. Defaults to `"redis://127.0.0.1:6379"`. */
    url?: string;
    /** Extra ioredis options, applied over the fail-fast ones (see `failFastRedisOptions`). Defaults to `{}`. */
    redisOptions?: RedisOptions;
    /** Prefix of every key the store writes, so several servers can share one Redis. Defaults to `"quandex:limits:"`. */
    keyPrefix?: string;
    /** How long one command may take before it fails as `limits_unavailable`. Defaults to `1000`. */
    commandTimeoutMs?: number;
    /**
     * Admit requests unchecked (and uncounted) while Redis is unreachable, instead of rejecting
     * with `limits_unavailable`. The loss and the recovery are logged once each. Usage queries
     * still fail. Defaults to `false`.
     */
    failOpen?: boolean;
    /** Days a day's counts and usage stay in Redis; the quota itself needs only the current day. Defaults to `2`. */
    usageRetentionDays?: number;
    /**
     * Milliseconds since the epoch. Leave it out in production: Redis's own clock (`TIME`) is then
     * the one clock all replicas share. Defaults to the Redis server time.
     */
    clock?: () => number;
    /** Defaults to a console logger. */
    logger?: LimitsLogger;
}

/** The store's scripts as ioredis exposes them after `defineCommand`. */
interface ScriptedRedis {
    quandexRate(key: string, burst: number, rps: number, now: string, cost: 0 | 1): Promise<[number, string]>;
    quandexDaily(prefix: string, keyId: string, limit: string, now: string, mode: "admit" | "peek", ttl: number): Promise<[number, number, number]>;
    quandexUsage(prefix: string, keyId: string, prompt: number, completion: number, now: string, ttl: number): Promise<number>;
    quandexRefund(key: string): Promise<number>;
}

/**
 * Everything in Redis, for several replicas behind one load balancer: each check is one Lua
 * script, so two replicas draw from one bucket and one daily count. Days and bucket refills use
 * Redis's clock unless a clock is injected.
 *
 * A dead or hung Redis fails each operation within `commandTimeoutMs` with `limits_unavailable`
 * (or admits, with `failOpen`); ioredis keeps reconnecting, so the store recovers by itself when
 * Redis is back. Buckets and counts written before a Redis restart without persistence are gone,
 * which refills buckets and resets the day's counts: run Redis with AOF if that matters.
 */
export class RedisLimitStore implements LimitStore {
    readonly #redis: Redis;
    readonly #scripts: ScriptedRedis;
    readonly #prefix: string;
    readonly #ttlSeconds: number;
    readonly #failOpen: boolean;
    readonly #clock: (() => number) | undefined;
    readonly #logger: LimitsLogger;
    #healthy = true;
    #disposed = false;

    private constructor(redis: Redis, options: RedisLimitStoreOptions) {
        this.#redis = redis;
        this.#scripts = redis as unknown as ScriptedRedis;
        this.#prefix = options.keyPrefix ?? "quandex:limits:";
        this.#ttlSeconds = Math.round((options.usageRetentionDays ?? 2) * 86_400);
        this.#failOpen = options.failOpen ?? false;
        this.#clock = options.clock;
        this.#logger = options.logger ?? consoleLimitsLogger;
        redis.on("error", (error: unknown) => this.#markFailing(error));
        redis.on("ready", () => this.#markHealthy());
    }

    /**
     * Connects and defines the scripts.
     * @throws QuandexError `limits_unavailable` when Redis cannot be reached now, so a wrong URL
     *   stops the boot; after that, outages are per request.
     */
    static async create(options: RedisLimitStoreOptions = {}): Promise<RedisLimitStore> {
        let store: RedisLimitStore | undefined;
        await connectRedis(options.url ?? "redis://127.0.0.1:6379", {
            commandTimeoutMs: options.commandTimeoutMs,
            redisOptions: options.redisOptions,
            prepare: (redis) => {
                redis.defineCommand("quandexRate", { numberOfKeys: 1, lua: RATE_SCRIPT });
                redis.defineCommand("quandexDaily", { numberOfKeys: 1, lua: DAILY_SCRIPT });
                redis.defineCommand("quandexUsage", { numberOfKeys: 1, lua: USAGE_SCRIPT });
                redis.defineCommand("quandexRefund", { numberOfKeys: 1, lua: REFUND_SCRIPT });
                // Listening before the first connect, so the first loss is seen too.
                store = new RedisLimitStore(redis, options);
            }
        });
        return store!;
    }

    /** False from the moment Redis is lost until it answers again. */
    get healthy(): boolean {
        return this.#healthy;
    }

    /** The connection, for sharing with {@link RedisAuthFailureLimiter}; the store owns and closes it. */
    get redis(): Redis {
        return this.#redis;
    }

    get keyPrefix(): string {
        return this.#prefix;
    }

    consumeRate(keyId: string, limits: Readonly<KeyLimits>, now?: number): Promise<RateDecision> {
        return this.#rate(keyId, limits, now, 1);
    }

    peekRate(keyId: string, limits: Readonly<KeyLimits>, now?: number): Promise<RateDecision> {
        return this.#rate(keyId, limits, now, 0);
    }

    admitDaily(keyId: string, limits: Readonly<KeyLimits>, now?: number): Promise<DailyDecision> {
        return this.#daily(keyId, limits, now, "admit");
    }

    peekDaily(keyId: string, limits: Readonly<KeyLimits>, now?: number): Promise<DailyDecision> {
        return this.#daily(keyId, limits, now, "peek");
    }

    refundDaily(keyId: string, day: string): Promise<void> {
        const epochDay = parseUtcDay(day);
        if (epochDay === null) return Promise.resolve();
        return this.#guard(
            async () => {
                await this.#scripts.quandexRefund(this.#usageKey(epochDay, keyId));
            },
            () => undefined
        );
    }

    async recordUsage(keyId: string, usage: Readonly<TokenUsage>, now?: number): Promise<void> {
        assertValidTokenUsage(usage);
        return this.#guard(
            async () => {
                await this.#scripts.quandexUsage(this.#prefix, keyId, usage.promptTokens, usage.completionTokens, this.#nowArg(now), this.#ttlSeconds);
            },
            () => undefined
        );
    }

    async getUsage(keyId: string | null, day?: string): Promise<UsageRecord[]> {
        if (day !== undefined && parseUtcDay(day) === null) {
            throw new QuandexError("invalid_parameter", { param: "day", detail: "expected a UTC date as YYYY-MM-DD." }, { param: "day" });
        }
        return this.#guard(async () => {
            const epochDay = day !== undefined ? (parseUtcDay(day) as number) : utcEpochDay(this.#clock?.() ?? (await this.#serverNow()));
            const keyIds = keyId !== null ? [keyId] : (await this.#redis.smembers(this.#prefix + `usage:${epochDay}`)).sort();
            const pipeline = this.#redis.pipeline();
            for (const id of keyIds) pipeline.hgetall(this.#usageKey(epochDay, id));
            const replies = (await pipeline.exec()) ?? [];
            const records: UsageRecord[] = [];
            keyIds.forEach((id, i) => {
                const [error, hash] = replies[i] ?? [null, {}];
                if (error) throw error;
                const fields = hash as Record<string, string>;
                if (Object.keys(fields).length === 0) return;
                const promptTokens = Number(fields.prompt_tokens ?? 0);
                const completionTokens = Number(fields.completion_tokens ?? 0);
                records.push({
                    keyId: id,
                    day: epochDayToUtcDay(epochDay),
                    requests: Number(fields.requests ?? 0),
                    promptTokens,
                    completionTokens,
                    totalTokens: promptTokens + completionTokens
                });
            });
            return records;
        }, null);
    }

    async dispose(): Promise<void> {
        if (this.#disposed) return;
        this.#disposed = true;
        try {
            await this.#redis.quit();
        } catch {
            // Redis is down: quit cannot be sent, so drop the socket and stop reconnecting.
            this.#redis.disconnect();
        }
    }

    [Symbol.asyncDispose](): Promise<void> {
        return this.dispose();
    }

    #rate(keyId: string, limits: Readonly<KeyLimits>, now: number | undefined, cost: 0 | 1): Promise<RateDecision> {
        if (limits.unlimited) return this.#disposed ? Promise.reject(new QuandexError("server_shutdown")) : Promise.resolve(unlimitedRateDecision());
        return this.#guard(
            async () => {
                const [allowed, tokens] = await this.#scripts.quandexRate(this.#prefix + `bucket:${keyId}`, limits.burst, limits.rps, this.#nowArg(now), cost);
                return bucketDecision(Number(tokens), limits, allowed === 1);
            },
            () => unlimitedRateDecision(true)
        );
    }

    #daily(keyId: string, limits: Readonly<KeyLimits>, now: number | undefined, mode: "admit" | "peek"): Promise<DailyDecision> {
        const limit = limits.unlimited || limits.daily === null ? "" : String(limits.daily);
        return this.#guard(
            async () => {
                const [counted, used, serverNow] = await this.#scripts.quandexDaily(this.#prefix, keyId, limit, this.#nowArg(now), mode, this.#ttlSeconds);
                return dailyDecision(limits, Number(used), counted === 1, Number(serverNow));
            },
            () => {
                const at = now ?? this.#clock?.() ?? Date.now();
                const resetSeconds = secondsUntilUtcMidnight(at);
                return { allowed: true, limit: null, used: 0, remaining: null, resetSeconds, retryAfterSeconds: null, day: utcDay(at), counted: false, degraded: true };
            }
        );
    }

    /** `now` for a script: the explicit one, the injected clock, or '' for the Redis server's clock. */
    #nowArg(now: number | undefined): string {
        const at = now ?? this.#clock?.();
        return at === undefined ? "" : String(Math.floor(at));
    }

    async #serverNow(): Promise<number> {
        const [seconds, micros] = await this.#redis.time();
        return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    }

    #usageKey(epochDay: number, keyId: string): string {
        return this.#prefix + `usage:${epochDay}:${keyId}`;
    }

    /** Runs one Redis operation; a failure becomes `limits_unavailable`, or the fallback when failing open. */
    async #guard<T>(operation: () => Promise<T>, failOpenFallback: (() => T) | null): Promise<T> {
        if (this.#disposed) throw new QuandexError("server_shutdown");
        try {
            const result = await operation();
            this.#markHealthy();
            return result;
        } catch (error) {
            if (error instanceof QuandexError) throw error;
            this.#markFailing(error);
            if (this.#failOpen && failOpenFallback) return failOpenFallback();
            throw storeUnavailableError("Redis", error);
        }
    }

    #markFailing(error: unknown): void {
        if (!this.#healthy || this.#disposed) return;
        this.#healthy = false;
        const consequence = this.#failOpen ? "admitting requests unchecked (failOpen)" : "answering 503 limits_unavailable";
        this.#logger.warn({ err: error }, `Redis limit store unavailable; ${consequence} until it is back.`);
    }

    #markHealthy(): void {
        if (this.#healthy || this.#disposed) return;
        this.#healthy = true;
        this.#logger.info({}, "Redis limit store is reachable again.");
    }
}
