const MS_PER_DAY = 86_400_000;

let lastEpochDay = Number.NaN;
let lastDay = "";

/**
 * The UTC calendar day of an instant, as `YYYY-MM-DD`. Daily quotas and usage are bucketed by it.
 * Every authenticated request asks, so the last answer is kept for its day.
 */
export function utcDay(nowMs: number): string {
    const epochDay = Math.floor(nowMs / MS_PER_DAY);
    if (epochDay !== lastEpochDay) {
        lastDay = new Date(nowMs).toISOString().slice(0, 10);
        lastEpochDay = epochDay;
    }
    return lastDay;
}

/** Whole days since 1970-01-01 UTC; the Redis store keys days by this number so Lua can compute it. */
export function utcEpochDay(nowMs: number): number {
    return Math.floor(nowMs / MS_PER_DAY);
}

/** The inverse of {@link utcEpochDay}, as `YYYY-MM-DD`. */
export function epochDayToUtcDay(epochDay: number): string {
    return utcDay(epochDay * MS_PER_DAY);
}

/** Parses `YYYY-MM-DD` into its epoch day, or `null` when it is not a real calendar day. */
export function parseUtcDay(day: string): number | null {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
    const ms = Date.parse(`${day}T00:00:00Z`);
    // Date.parse rolls 2024-02-30 over to March; comparing back rejects such days.
    if (Number.isNaN(ms) || utcDay(ms) !== day) return null;
    return ms / MS_PER_DAY;
}

/**
 * Whole seconds until the next 00:00 UTC, rounded up, so a client that waits this long is in the
 * new day. At exactly midnight the answer is a full day (86400), never 0.
 */
export function secondsUntilUtcMidnight(nowMs: number): number {
    const next = (utcEpochDay(nowMs) + 1) * MS_PER_DAY;
    return Math.ceil((next - nowMs) / 1000);
}
