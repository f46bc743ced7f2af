import { Type, type Static } from "@sinclair/typebox";
import { upstreamPoolDefaults, type UpstreamPoolConfig } from "@quandex/engine";
import { ConfigError } from "./ConfigError.js";

const ModelId = Type.String({ minLength: 1, maxLength: 256, pattern: "^[A-Za-z0-9][A-Za-z0-9._:/-]*$" });
const Seconds = Type.Number({ exclusiveMinimum: 0, maximum: 86_400 });

/** `upstreams:` in the config file: named pools of OpenAI-compatible servers (DEPLOYMENT.md). */
export const UpstreamsSchema = Type.Array(
    Type.Object(
        {
            name: Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$" }),
            type: Type.Literal("openai"),
            endpoints: Type.Array(
                Type.Object(
                    {
                        url: Type.String({ minLength: 1 }),
                        /** The environment variable holding the endpoint's API key; the key itself never goes in the file. */
                        api_key_env: Type.Optional(Type.String({ minLength: 1, pattern: "^[A-Za-z_][A-Za-z0-9_]*$" })),
                        weight: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1_000 }))
                    },
                    { additionalProperties: false }
                ),
                { minItems: 1 }
            ),
            models: Type.Optional(
                Type.Array(
                    Type.Object(
                        {
                            id: ModelId,
                            upstream_model: Type.Optional(Type.String({ minLength: 1 })),
                            aliases: Type.Optional(Type.Array(ModelId)),
                            context_size: Type.Optional(Type.Integer({ minimum: 16, maximum: 1_048_576 }))
                        },
                        { additionalProperties: false }
                    )
                )
            ),
            discover: Type.Optional(Type.Boolean()),
            health_check: Type.Optional(
                Type.Object(
                    { path: Type.Optional(Type.String({ pattern: "^/" })), interval: Type.Optional(Seconds), timeout: Type.Optional(Seconds) },
                    { additionalProperties: false }
                )
            ),
            max_retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
            eject_after: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
            eject_backoff: Type.Optional(Seconds),
            max_eject_backoff: Type.Optional(Seconds),
            idle_timeout: Type.Optional(Seconds),
            connect_timeout: Type.Optional(Seconds),
            max_concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
            connections_per_endpoint: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 }))
        },
        { additionalProperties: false }
    )
);
export type UpstreamsSettings = Static<typeof UpstreamsSchema>;

/**
 * The validated pools: URLs are http(s), names unique, every `api_key_env` set in the environment
 * (a pool whose key is missing would fail every request, so it stops the boot instead), and a pool
 * serves at least one model (listed or discovered).
 */
export function upstreamsFrom(settings: UpstreamsSettings | undefined, env: NodeJS.ProcessEnv): UpstreamPoolConfig[] {
    const names = new Set<string>();
    return (settings ?? []).map((pool, index) => {
        const at = `upstreams[${index}]`;
        if (names.has(pool.name)) throw new ConfigError(`${at}.name`, `'${pool.name}' names another pool already`);
        names.add(pool.name);
        if ((pool.models ?? []).length === 0 && pool.discover !== true) throw new ConfigError(`${at}.models`, "list the models this pool serves, or set discover: true");
        const seconds = (value: number | undefined, fallbackMs: number): number => (value === undefined ? fallbackMs : Math.round(value * 1000));
        const backoffMs = seconds(pool.eject_backoff, upstreamPoolDefaults.backoffMs);
        return {
            name: pool.name,
            type: pool.type,
            endpoints: pool.endpoints.map((endpoint, e) => {
                const key = `${at}.endpoints[${e}]`;
                let url: URL;
                try {
                    url = new URL(endpoint.url);
                } catch {
                    throw new ConfigError(`${key}.url`, `'${endpoint.url}' is not a URL`);
                }
                if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError(`${key}.url`, `'${endpoint.url}' is not an http(s) URL`);
                if (url.username || url.password) throw new ConfigError(`${key}.url`, "put credentials in api_key_env, not in the URL");
                // Quandex adds /v1/completions, /v1/models and the health path itself.
                if (/\/v1\/?$/.test(url.pathname)) throw new ConfigError(`${key}.url`, `'${endpoint.url}' ends in /v1; give the server's base URL (Quandex adds /v1/...)`);
                let apiKey: string | null = null;
                if (endpoint.api_key_env !== undefined) {
                    apiKey = env[endpoint.api_key_env] ?? "";
                    if (apiKey === "") throw new ConfigError(`${key}.api_key_env`, `the environment variable ${endpoint.api_key_env} is not set`);
                }
                return { url: endpoint.url, apiKey, weight: endpoint.weight ?? 1 };
            }),
            models: (pool.models ?? []).map((m) => ({
                id: m.id,
                upstreamModel: m.upstream_model ?? m.id,
                aliases: m.aliases ?? [],
                contextSize: m.context_size ?? upstreamPoolDefaults.contextSize
            })),
            discover: pool.discover ?? false,
            healthCheck: {
                path: pool.health_check?.path ?? upstreamPoolDefaults.healthCheck.path,
                intervalMs: seconds(pool.health_check?.interval, upstreamPoolDefaults.healthCheck.intervalMs),
                timeoutMs: seconds(pool.health_check?.timeout, upstreamPoolDefaults.healthCheck.timeoutMs)
            },
            maxRetries: pool.max_retries ?? upstreamPoolDefaults.maxRetries,
            ejectAfter: pool.eject_after ?? upstreamPoolDefaults.ejectAfter,
            backoffMs,
            maxBackoffMs: Math.max(backoffMs, seconds(pool.max_eject_backoff, upstreamPoolDefaults.maxBackoffMs)),
            idleTimeoutMs: seconds(pool.idle_timeout, upstreamPoolDefaults.idleTimeoutMs),
            connectTimeoutMs: seconds(pool.connect_timeout, upstreamPoolDefaults.connectTimeoutMs),
            maxConcurrency: pool.max_concurrency ?? upstreamPoolDefaults.maxConcurrency,
            connectionsPerEndpoint: pool.connections_per_endpoint ?? upstreamPoolDefaults.connectionsPerEndpoint
        };
    });
}
