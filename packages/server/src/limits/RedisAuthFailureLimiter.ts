import {
    authFailureBucket,
    authFailureDecision,
    type AuthFailureDecision,
    type AuthFailureLimiter,
    type AuthFailureLimiterOptions,
    type AuthFailureStats
} from "./AuthFailureLimiter.js";
import { clientAddressKey } from "./clientAddressKey.js";
import { consoleLimitsLogger, type LimitsLogger } from "./LimitsLogger.js";
import { RATE_SCRIPT } from "./redisScripts.js";
import { bucketDecision } from "./tokenBucket.js";
import type { RedisLimitStore } from "./RedisLimitStore.js";

export interface RedisAuthFailureLimiterOptions extends AuthFailureLimiterOptions {
    /** Defaults to a console logger. */
    logger?: LimitsLogger;
}

interface RateScript {
    quandexAuthRate(key: string, burst: number, rps: number, now: string, cost: 0 | 1): Promise<[number, string]>;
}

/**
 * {@link AuthFailureLimiter} shared by every replica, on the Redis connection of a
 * {@link RedisLimitStore} (which owns and closes it). It always fails open: when Redis is down a
 * guesser is still stopped by the keys themselves, and refusing every login would turn a Redis
 * outage into a full one. The loss is logged once.
 */
export class RedisAuthFailureLimiter implements AuthFailureLimiter {
    readonly #redis: RateScript;
    readonly #prefix: string;
    readonly #bucket: { burst: number; rps: number };
    readonly #clock: (() => number) | undefined;
    readonly #logger: LimitsLogger;
    #healthy = true;
    #failuresTotal = 0;
    #blockedTotal = 0;

    constructor(store: RedisLimitStore, options: RedisAuthFailureLimiterOptions = {}) {
        store.redis.defineCommand("quandexAuthRate", { numberOfKeys: 1, lua: RATE_SCRIPT });
        this.#redis = store.redis as unknown as RateScript;
        this.#prefix = `${store.keyPrefix}authfail:`;
        this.#bucket = authFailureBucket(options);
        this.#clock = options.clock;
        this.#logger = options.logger ?? consoleLimitsLogger;
    }

    async check(address: string, now?: number): Promise<AuthFailureDecision> {
        const decision = await this.#step(address, now, 0);
        if (decision.blocked) this.#blockedTotal++;
        return decision;
    }

    async recordFailure(address: string, now?: number): Promise<AuthFailureDecision> {
        this.#failuresTotal++;
        return this.#step(address, now, 1);
    }

    stats(): AuthFailureStats {
        return { failuresTotal: this.#failuresTotal, blockedTotal: this.#blockedTotal };
    }

    async dispose(): Promise<void> {}

    async #step(address: string, now: number | undefined, cost: 0 | 1): Promise<AuthFailureDecision> {
        const at = now ?? this.#clock?.();
        try {
            const [allowed, tokens] = await this.#redis.quandexAuthRate(
                this.#prefix + clientAddressKey(address),
                this.#bucket.burst,
                this.#bucket.rps,
                at === undefined ? "" : String(Math.floor(at)),
                cost
            );
            if (!this.#healthy) this.#logger.info({}, "Redis auth-failure limiter is reachable again.");
            this.#healthy = true;
            const left = Number(tokens);
            // A peek answers for this attempt; after a failure the caller wants the state it left,
            // i.e. whether the next attempt will be let through.
            const open = cost === 0 ? allowed === 1 : left >= 1 - 1e-9;
            return authFailureDecision(bucketDecision(left, this.#bucket, open));
        } catch (error) {
            if (this.#healthy) this.#logger.warn({ err: error }, "Redis auth-failure limiter unavailable; not limiting failed logins until it is back.");
            this.#healthy = false;
            return { blocked: false, remaining: this.#bucket.burst, retryAfterSeconds: null };
        }
    }
}
