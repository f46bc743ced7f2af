import type { DailyDecision } from "./DailyDecision.js";
import type { KeyLimits } from "./KeyLimits.js";
import type { RateDecision } from "./RateDecision.js";
import type { TokenUsage, UsageRecord } from "./UsageRecord.js";

/**
 * Where rate buckets, daily counts and usage live. Every check-and-update is atomic in the store
 * itself (synchronous JS, one SQLite `BEGIN IMMEDIATE` transaction, or one Redis Lua script), so
 * callers never read-then-write and concurrent requests cannot overshoot a limit.
 *
 * Limit outcomes are returned as decisions; only an unreachable or broken store rejects, with a
 * `QuandexError` of code `limits_unavailable` (503). `now` (ms since the epoch) overrides the
 * store's clock for one call; tests use it, the server leaves it out.
 */
export interface LimitStore {
    /** Takes one token from the key's bucket if one is there. Unlimited keys are admitted untouched. */
    consumeRate(keyId: string, limits: Readonly<KeyLimits>, now?: number): Promise<RateDecision>;
    /** Reads the bucket without taking a token, for headers on answers that did not consume. */
    peekRate(keyId: string, limits: Readonly<KeyLimits>, now?: number): Promise<RateDecision>;
    /**
     * Counts one inference request against today's quota if it fits: check and increment are one
     * atomic, durable step (acknowledged means persisted). Call it at the last moment before the
     * request is queued, and {@link refundDaily} if it is refused after all.
     */
    admitDaily(keyId: string, limits: Readonly<KeyLimits>, now?: number): Promise<DailyDecision>;
    /** Reads today's count without counting. */
    peekDaily(keyId: string, limits: Readonly<KeyLimits>, now?: number): Promise<DailyDecision>;
    /**
     * Gives back one request counted by `admitDaily` (pass its `decision.day`, so a request admitted
     * at 23:59:59 is refunded to the right day). Never goes below zero.
     */
    refundDaily(keyId: string, day: string): Promise<void>;
    /** Adds a finished request's tokens to the key's usage for the current UTC day. */
    recordUsage(keyId: string, usage: Readonly<TokenUsage>, now?: number): Promise<void>;
    /**
     * Usage on one UTC day (`YYYY-MM-DD`, default today) for one key, or for every key when
     * `keyId` is `null` (admin), sorted by key id. A key with no traffic that day has no record.
     * @throws QuandexError `invalid_parameter` (param `day`) when `day` is not a calendar day.
     */
    getUsage(keyId: string | null, day?: string): Promise<UsageRecord[]>;
    /** Releases what the store owns (timers, its own connections); a passed-in database or client stays open. Idempotent. */
    dispose(): Promise<void>;
    [Symbol.asyncDispose](): Promise<void>;
}
