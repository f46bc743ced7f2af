import type { ApiKey } from "@quandex/protocol";

export type { ApiKey, ModelEntry, ModelList, ModelStats, Pull, StatsResponse, UsageResponse } from "@quandex/protocol";

export type Scope = ApiKey["scopes"][number];

/** Every scope a key can hold, in the order the keys page offers them. */
export const allScopes = ["generate", "read", "metrics", "admin"] as const satisfies readonly Scope[];

// Fails to compile when the protocol gains a scope this list lacks, so the keys page never hides one.
type MissingScope = Exclude<Scope, (typeof allScopes)[number]>;
export const scopesAreComplete: [MissingScope] extends [never] ? true : MissingScope = true;
