import { Type, type Static } from "@sinclair/typebox";

const Gpu = Type.Union([Type.Literal("auto"), Type.Boolean(), Type.Integer({ minimum: 0 })]);
const Scope = Type.Union([Type.Literal("generate"), Type.Literal("read"), Type.Literal("admin")]);
const ModelId = Type.String({ minLength: 1, maxLength: 256, pattern: "^[A-Za-z0-9][A-Za-z0-9._:/-]*$" });

export const ModelLoadSettingsSchema = Type.Object(
    {
        context_size: Type.Optional(Type.Integer({ minimum: 16, maximum: 1_048_576 })),
        parallel: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
        gpu: Type.Optional(Gpu),
        threads: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 }))
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
                    cors_origins: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
                    trust_proxy: Type.Optional(Type.Union([Type.Boolean(), Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }))])),
                    keys: Type.Optional(
                        Type.Object({ default_scopes: Type.Optional(Type.Array(Scope, { minItems: 1 })) }, { additionalProperties: false })
                    ),
                    limits: Type.Optional(
                        Type.Object(
                            {
                                default_rps: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
                                default_burst: Type.Optional(Type.Integer({ minimum: 1 })),
                                default_daily: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
                                auth_failures_per_minute: Type.Optional(Type.Integer({ minimum: 1 })),
                                fail_open: Type.Optional(Type.Boolean())
                            },
                            { additionalProperties: false }
                        )
                    ),
                    redis_url: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()]))
                },
                { additionalProperties: false }
            )
        ),
        engine: Type.Optional(
            Type.Object(
                {
                    type: Type.Optional(Type.Union([Type.Literal("node-llama-cpp"), Type.Literal("llama-server")])),
                    gpu: Type.Optional(Type.Union([Type.Literal("auto"), Type.Literal(false)])),
                    /** node-llama-cpp only: `auto` (default) runs its local build when present, `prebuilt` never does. */
                    build: Type.Optional(Type.Union([Type.Literal("auto"), Type.Literal("prebuilt")])),
                    /** llama-server only: the binary. Defaults to the one `quandex engine build` installed. */
                    path: Type.Optional(Type.String({ minLength: 1 }))
                },
                { additionalProperties: false }
            )
        ),
        model_defaults: Type.Optional(ModelLoadSettingsSchema),
        models: Type.Optional(Type.Array(ModelConfigSchema))
    },
    { additionalProperties: false }
);
export type ConfigFile = Static<typeof ConfigFileSchema>;
export type Scope = Static<typeof Scope>;
