/**
 * The limits that apply to one API key. The lead resolves them once per request from the global
 * defaults and the key's overrides with {@link resolveKeyLimits}.
 */
export interface KeyLimits {
    /** Sustained rate: tokens added to the key's bucket per second (continuously, not per window). */
    rps: number;
    /** Bucket capacity: how many requests a rested key may send at once. */
    burst: number;
    /** Admitted inference requests per UTC day; `null` = no daily quota. */
    daily: number | null;
    /** Bypasses the rate limit and the daily quota; usage is still counted. */
    unlimited: boolean;
}

/** A key's stored overrides; an absent field falls back to the default. */
export type KeyLimitOverrides = Partial<KeyLimits>;

/** `server.limits.default_rps` 10, `default_burst` 20, `default_daily` 1000. */
export const DEFAULT_KEY_LIMITS: Readonly<KeyLimits> = Object.freeze({ rps: 10, burst: 20, daily: 1000, unlimited: false });

/**
 * Merges a key's overrides over the defaults and validates the result.
 * @throws RangeError when a value is out of range, naming the field, so a bad config stops the boot
 *   instead of silently disabling a limit.
 */
export function resolveKeyLimits(defaults: Readonly<KeyLimits>, overrides?: Readonly<KeyLimitOverrides> | null): KeyLimits {
    const limits: KeyLimits = {
        rps: overrides?.rps ?? defaults.rps,
        burst: overrides?.burst ?? defaults.burst,
        // `daily: null` in an override means "no quota", so `??` would be wrong here.
        daily: overrides?.daily !== undefined ? overrides.daily : defaults.daily,
        unlimited: overrides?.unlimited ?? defaults.unlimited
    };
    assertValidKeyLimits(limits);
    return limits;
}

/** @throws RangeError when `rps` is not a positive finite number, `burst` not an integer >= 1, or `daily` not null or an integer >= 0. */
export function assertValidKeyLimits(limits: Readonly<KeyLimits>): void {
    if (!(Number.isFinite(limits.rps) && limits.rps > 0)) throw new RangeError(`limits.rps must be a positive number, got ${limits.rps}`);
    if (!(Number.isInteger(limits.burst) && limits.burst >= 1)) throw new RangeError(`limits.burst must be an integer >= 1, got ${limits.burst}`);
    if (limits.daily !== null && !(Number.isInteger(limits.daily) && limits.daily >= 0)) {
        throw new RangeError(`limits.daily must be null or an integer >= 0, got ${limits.daily}`);
    }
    if (typeof limits.unlimited !== "boolean") throw new RangeError(`limits.unlimited must be a boolean, got ${String(limits.unlimited)}`);
}
