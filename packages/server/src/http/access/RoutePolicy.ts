import type { Scope } from "../../config/ConfigFileSchema.js";

/**
 * What a route demands of a request, declared with the route itself (`onRequest:
 * access.guard(policy)`), so a reader sees a route's rules where the route is written.
 */
export interface RoutePolicy {
    /** The scope a key needs (`admin` implies every scope); `null` for a public route, which needs no key. */
    readonly scope: Scope | null;
    /** Whether an authenticated request takes a token from its key's rate bucket. */
    readonly rateLimit: boolean;
    /**
     * Whether a request that passes validation and reaches the queue counts against its key's daily
     * quota. Only inference routes do: listing models or reading stats never burns quota.
     */
    readonly dailyQuota: boolean;
    /**
     * A request without any key runs as this key (its scopes, rate limit and quota), for a dialect
     * opened to clients that send none (`server.ollama_api.auth: none`): opening it never bypasses limits.
     */
    readonly anonymousKeyId?: string;
}

/** The policies the routes use. Every authenticated route is rate limited, as the reference's limits say. */
export const policies = {
    /** No key: `/health`. */
    public: { scope: null, rateLimit: false, dailyQuota: false },
    /** Reading models, stats, usage, the OpenAPI document. */
    read: { scope: "read", rateLimit: true, dailyQuota: false },
    /** Generation and embeddings, in every dialect. */
    inference: { scope: "generate", rateLimit: true, dailyQuota: true },
    /** Starting a model's load: a generating key may warm up what it is about to use. */
    warmUp: { scope: "generate", rateLimit: true, dailyQuota: false },
    /** `GET /metrics`: a Prometheus scraper's key needs only the `metrics` scope. */
    metrics: { scope: "metrics", rateLimit: true, dailyQuota: false },
    /** Keys, unloading, every change to the server's state. */
    admin: { scope: "admin", rateLimit: true, dailyQuota: false }
} as const satisfies Record<string, RoutePolicy>;
