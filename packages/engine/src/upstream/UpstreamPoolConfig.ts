/** One server of a pool. */
export interface UpstreamEndpointConfig {
    /** Base URL, e.g. `http://gpu-1:8000` (a path prefix such as `/v1` is not part of it). */
    url: string;
    /** Sent as `Authorization: Bearer`; read from an environment variable at boot, never logged or shown. */
    apiKey: string | null;
    /** Share of the traffic relative to the pool's other endpoints (least outstanding requests per weight). */
    weight: number;
}

/** A model the pool serves, under Quandex's id. */
export interface UpstreamModelConfig {
    id: string;
    /** The name the upstream knows it by (its `model` field). */
    upstreamModel: string;
    aliases: readonly string[];
    /** What `GET /v1/models` shows as its context; the upstream enforces its own. */
    contextSize: number;
}

/** A named pool of OpenAI-compatible servers (vLLM, SGLang, llama-server, TGI, another Quandex). */
export interface UpstreamPoolConfig {
    name: string;
    type: "openai";
    endpoints: readonly UpstreamEndpointConfig[];
    models: readonly UpstreamModelConfig[];
    /** Read the upstream's `GET /v1/models` at boot and serve every model it lists (ids as the upstream names them). */
    discover: boolean;
    /** Active health check: `GET <path>` every `intervalMs`; 200 is healthy. */
    healthCheck: { path: string; intervalMs: number; timeoutMs: number };
    /** How many other endpoints a request that failed before its first token may be tried on. */
    maxRetries: number;
    /** Consecutive failures (requests or health checks) that eject an endpoint. */
    ejectAfter: number;
    /** First ejection's back-off; each ejection in a row doubles it, up to `maxBackoffMs`. */
    backoffMs: number;
    maxBackoffMs: number;
    /** A stream that sends nothing for this long is ended (per request, between chunks and before the headers). */
    idleTimeoutMs: number;
    connectTimeoutMs: number;
    /** Requests in flight per model across the pool; more wait in Quandex's queue. */
    maxConcurrency: number;
    /** Keep-alive connections per endpoint. */
    connectionsPerEndpoint: number;
}

/** Defaults for the tunables of {@link UpstreamPoolConfig}, documented in DEPLOYMENT.md. */
export const upstreamPoolDefaults = {
    healthCheck: { path: "/health", intervalMs: 5_000, timeoutMs: 2_000 },
    maxRetries: 1,
    ejectAfter: 3,
    backoffMs: 1_000,
    maxBackoffMs: 30_000,
    idleTimeoutMs: 60_000,
    connectTimeoutMs: 5_000,
    maxConcurrency: 64,
    connectionsPerEndpoint: 64,
    contextSize: 4_096
} as const;
