import { UpstreamsSchema } from "./upstreamsFrom.js";
import { Type, type Static } from "@sinclair/typebox";

const Gpu = Type.Union([Type.Literal("auto"), Type.Boolean(), Type.Integer({ minimum: 0 })]);
const Scope = Type.Union([Type.Literal("generate"), Type.Literal("read"), Type.Literal("admin"), Type.Literal("metrics")]);
const ModelId = Type.String({ minLength: 1, maxLength: 256, pattern: "^[A-Za-z0-9][A-Za-z0-9._:/-]*$" });
/** `5m`, `1h`, `30s`, seconds as a number, `0` (unload after each request) or `-1` (forever). */
const KeepAlive = Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Number()]);

export const ModelLoadSettingsSchema = Type.Object(
    {
        context_size: Type.Optional(Type.Integer({ minimum: 16, maximum: 1_048_576 })),
        parallel: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
        gpu: Type.Optional(Gpu),
        threads: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
        keep_alive: Type.Optional(KeepAlive)
    },
    { additionalProperties: false }
);

export const ModelConfigSchema = Type.Object(
    {
        id: ModelId,
        path: Type.String({ minLength: 1 }),
        aliases: Type.Optional(Type.Array(ModelId)),
        context_size: Type.Optional(Type.Integer({ minimum: 16, maximum: 1_048_576 })),
        parallel: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
        gpu: Type.Optional(Gpu),
        threads: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
        keep_alive: Type.Optional(KeepAlive),
        preload: Type.Optional(Type.Boolean())
    },
    { additionalProperties: false }
);

/** The config file (YAML or JSON). Every key is optional; unknown keys stop the boot. */
export const ConfigFileSchema = Type.Object(
    {
        server: Type.Optional(
            Type.Object(
                {
                    host: Type.Optional(Type.String({ minLength: 1 })),
                    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
                    models_dir: Type.Optional(Type.String({ minLength: 1 })),
                    data_dir: Type.Optional(Type.String({ minLength: 1 })),
                    log_level: Type.Optional(Type.Union(["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((l) => Type.Literal(l)))),
                    max_queue: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
                    request_timeout: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 86_400 })),
                    shutdown_grace: Type.Optional(Type.Number({ minimum: 0, maximum: 3_600 })),
                    keep_alive_interval: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3_600 })),
                    /** Bytes of one stream's response that may wait for a slow client before the stream is ended with an error frame. */
                    stream_buffer_limit: Type.Optional(Type.Integer({ minimum: 4096, maximum: 1_073_741_824 })),
                    /** Seconds a stream's unsent bytes may wait with the client taking none before its connection is closed. */
                    idle_timeout: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 86_400 })),
                    cors_origins: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
                    /** Serve HTTPS with Node's own TLS: PEM files, relative to the config file. */
                    tls: Type.Optional(Type.Object({ cert: Type.String({ minLength: 1 }), key: Type.String({ minLength: 1 }) }, { additionalProperties: false })),
                    /** Limits on what a client controls (README, "Configuration"). */
                    request_limits: Type.Optional(
                        Type.Object(
                            {
                                body_bytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 1_073_741_824 })),
                                header_bytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 1_048_576 })),
                                connections_per_ip: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
                                schema_depth: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
                                schema_enum_values: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
                                schema_properties: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
                                schema_bytes: Type.Optional(Type.Integer({ minimum: 64, maximum: 1_073_741_824 })),
                                grammar_timeout: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3_600 }))
                            },
                            { additionalProperties: false }
                        )
                    ),
                    trust_proxy: Type.Optional(Type.Union([Type.Boolean(), Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }))])),
                    keys: Type.Optional(Type.Object({ default_scopes: Type.Optional(Type.Array(Scope, { minItems: 1 })) }, { additionalProperties: false })),
                    limits: Type.Optional(
                        Type.Object(
                            {
                                default_rps: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
                                default_burst: Type.Optional(Type.Integer({ minimum: 1 })),
                                default_daily: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
                                auth_failures_per_minute: Type.Optional(Type.Integer({ minimum: 1 })),
                                /** With Redis: refuse with 503 `limits_unavailable` (default) or admit unchecked while it is down. */
                                redis_unavailable: Type.Optional(Type.Union([Type.Literal("fail_closed"), Type.Literal("fail_open")]))
                            },
                            { additionalProperties: false }
                        )
                    ),
                    redis_url: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()])),
                    /** Bytes all loaded models may hold: `"12GB"`, `"80%"` of RAM (or free VRAM), `"auto"` (90%), or a number of bytes. */
                    memory_budget: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Integer({ minimum: 1 })])),
                    /** A Hugging Face token for gated and private repos (prefer the HF_TOKEN environment variable). */
                    hf_token: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()])),
                    /** The Hugging Face endpoint pulls use (a mirror). */
                    hf_endpoint: Type.Optional(Type.String({ minLength: 1 })),
                    /** Who may reuse an evaluated prompt prefix: the same key (default), every key, or nobody. */
                    prompt_cache: Type.Optional(Type.Union([Type.Literal("per_key"), Type.Literal("shared"), Type.Literal("off")])),
                    /** `GET /metrics` (Prometheus): on by default, behind a key with the `metrics` (or `admin`) scope; `auth: none` opens it. */
                    metrics: Type.Optional(
                        Type.Object(
                            { enabled: Type.Optional(Type.Boolean()), auth: Type.Optional(Type.Union([Type.Literal("key"), Type.Literal("none")])) },
                            { additionalProperties: false }
                        )
                    ),
                    /**
                     * Ollama's `/api/*`: on by default, behind keys like every route (`auth: key`; Ollama clients
                     * send one as an `Authorization` header). `auth: none` lets clients without a key in, as the
                     * key `anonymous_key` (an id; required then), whose scopes and limits they share.
                     */
                    ollama_api: Type.Optional(
                        Type.Object(
                            {
                                enabled: Type.Optional(Type.Boolean()),
                                auth: Type.Optional(Type.Union([Type.Literal("key"), Type.Literal("none")])),
                                anonymous_key: Type.Optional(Type.String({ minLength: 1 }))
                            },
                            { additionalProperties: false }
                        )
                    ),
                    /** Put prompts and outputs in the per-request log line. Off by default: they are the users' data. */
                    log_prompts: Type.Optional(Type.Boolean()),
                    /** `pretty` (readable) or `json` (one object a line); `auto` (default) is pretty on a TTY, else JSON. */
                    log_format: Type.Optional(Type.Union([Type.Literal("auto"), Type.Literal("pretty"), Type.Literal("json")]))
                },
                { additionalProperties: false }
            )
        ),
        engine: Type.Optional(
            Type.Object(
                {
                    type: Type.Optional(Type.Union([Type.Literal("auto"), Type.Literal("node-llama-cpp"), Type.Literal("llama-server")])),
                    gpu: Type.Optional(Type.Union([Type.Literal("auto"), Type.Literal(false)])),
                    /** node-llama-cpp only: `auto` (default) runs its local build when present, `prebuilt` never does. */
                    build: Type.Optional(Type.Union([Type.Literal("auto"), Type.Literal("prebuilt")])),
                    /** llama-server only: the binary. Defaults to the one `quandex engine build` installed. */
                    path: Type.Optional(Type.String({ minLength: 1 })),
                    /** llama-server only: seconds a child may leave its health probe unanswered before it is killed and restarted. */
                    watchdog_timeout: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3_600 }))
                },
                { additionalProperties: false }
            )
        ),
        model_defaults: Type.Optional(ModelLoadSettingsSchema),
        models: Type.Optional(Type.Array(ModelConfigSchema)),
        /** Pools of OpenAI-compatible servers whose models Quandex serves under its own keys (`upstreamsFrom.ts`). */
        upstreams: Type.Optional(UpstreamsSchema)
    },
    { additionalProperties: false }
);
export type ConfigFile = Static<typeof ConfigFileSchema>;
export type Scope = Static<typeof Scope>;
