/** Tokens one request used, as reported by the engine at its end. */
export interface TokenUsage {
    promptTokens: number;
    completionTokens: number;
}

/** One key's usage on one UTC day. `requests` counts admitted inference requests (net of refunds). */
export interface UsageRecord {
    keyId: string;
    /** `YYYY-MM-DD`, UTC. */
    day: string;
    requests: number;
    promptTokens: number;
    completionTokens: number;
    totalTokens: number;
}

/** @throws RangeError when a token count is not a non-negative integer; a NaN would poison the sums. */
export function assertValidTokenUsage(usage: Readonly<TokenUsage>): void {
    for (const [name, value] of Object.entries(usage)) {
        if (!(Number.isInteger(value) && value >= 0)) throw new RangeError(`usage.${name} must be an integer >= 0, got ${String(value)}`);
    }
}
