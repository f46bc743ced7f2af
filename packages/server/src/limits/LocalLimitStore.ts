import type Database from "better-sqlite3";
import { QuandexError } from "@quandex/protocol";
import type { DailyDecision } from "./DailyDecision.js";
import type { KeyLimits } from "./KeyLimits.js";
import { storeUnavailableError } from "../storage/storeUnavailableError.js";
import type { LimitStore } from "./LimitStore.js";
import { unlimitedRateDecision, type RateDecision } from "./RateDecision.js";
import { SqliteUsageLedger, type SqliteUsageLedgerOptions } from "./SqliteUsageLedger.js";
import { assertValidTokenUsage, type TokenUsage, type UsageRecord } from "./UsageRecord.js";
import { parseUtcDay, utcDay } from "./utcDay.js";

export interface LocalLimitStoreOptions extends SqliteUsageLedgerOptions {
    /**
     * The server's open database (in the data dir). The store creates its tables in it and never
     * closes it: the server owns the connection.
     */
    db: Database.Database;
    /** Milliseconds since the epoch; injected by tests. Defaults to `Date.now`. */
    clock?: () => number;
}

/**
 * What the embedded stores share: daily counts and usage in SQLite through
 * {@link SqliteUsageLedger}, the clock, disposal, and mapping driver errors to
 * `limits_unavailable`. Subclasses supply only where the rate buckets live.
 */
export abstract class LocalLimitStore implements LimitStore {
    protected readonly clock: () => number;
    readonly #ledger: SqliteUsageLedger;
    #disposed = false;

    protected constructor(options: LocalLimitStoreOptions) {
        this.clock = options.clock ?? Date.now;
        this.#ledger = new SqliteUsageLedger(options.db, options);
    }

    /** One token-bucket step for the key, atomically; `cost` 0 only reads. */
    protected abstract takeRate(keyId: string, limits: Readonly<KeyLimits>, nowMs: number, cost: 0 | 1): RateDecision;

    consumeRate(keyId: string, limits: Readonly<KeyLimits>, now?: number): Promise<RateDecision> {
        return this.#run(() => (limits.unlimited ? unlimitedRateDecision() : this.takeRate(keyId, limits, now ?? this.clock(), 1)));
    }

    peekRate(keyId: string, limits: Readonly<KeyLimits>, now?: number): Promise<RateDecision> {
        return this.#run(() => (limits.unlimited ? unlimitedRateDecision() : this.takeRate(keyId, limits, now ?? this.clock(), 0)));
    }

    admitDaily(keyId: string, limits: Readonly<KeyLimits>, now?: number): Promise<DailyDecision> {
        return this.#run(() => this.#ledger.admit(keyId, limits, now ?? this.clock()));
    }

    peekDaily(keyId: string, limits: Readonly<KeyLimits>, now?: number): Promise<DailyDecision> {
        return this.#run(() => this.#ledger.peek(keyId, limits, now ?? this.clock()));
    }

    refundDaily(keyId: string, day: string): Promise<void> {
        return this.#run(() => this.#ledger.refund(keyId, day));
    }

    recordUsage(keyId: string, usage: Readonly<TokenUsage>, now?: number): Promise<void> {
        try {
            assertValidTokenUsage(usage);
        } catch (error) {
            return Promise.reject(error);
        }
        return this.#run(() => this.#ledger.record(keyId, usage, now ?? this.clock()));
    }

    getUsage(keyId: string | null, day?: string): Promise<UsageRecord[]> {
        const wanted = day ?? utcDay(this.clock());
        if (parseUtcDay(wanted) === null) {
            return Promise.reject(new QuandexError("invalid_parameter", { param: "day", detail: "expected a UTC date as YYYY-MM-DD." }, { param: "day" }));
        }
        return this.#run(() => this.#ledger.list(keyId, wanted));
    }

    async dispose(): Promise<void> {
        this.#disposed = true;
    }

    [Symbol.asyncDispose](): Promise<void> {
        return this.dispose();
    }

    /** Runs a synchronous store step; a driver failure (SQLITE_BUSY past the timeout, disk full) becomes a 503. */
    #run<T>(step: () => T): Promise<T> {
        if (this.#disposed) return Promise.reject(new QuandexError("server_shutdown"));
        try {
            return Promise.resolve(step());
        } catch (error) {
            return Promise.reject(storeUnavailableError("SQLite", error));
        }
    }
}
