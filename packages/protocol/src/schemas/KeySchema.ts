import { Type, type Static, type TSchema } from "@sinclair/typebox";

/** `metrics` reads only `GET /metrics` (a Prometheus scraper's key); `admin` implies every scope. */
export const ScopeSchema = Type.Union([Type.Literal("generate"), Type.Literal("read"), Type.Literal("admin"), Type.Literal("metrics")]);

const Rps = Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000, description: "Sustained requests per second (bucket refill rate)." });
const Burst = Type.Integer({ minimum: 1, maximum: 1_000_000, description: "Bucket capacity: requests a rested key may send at once." });
const Daily = Type.Integer({ minimum: 0, maximum: 1_000_000_000, description: "Inference requests per UTC day." });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** An API key as listed: never its secret. Limits are the key's overrides; null means the server default. */
export const ApiKeySchema = Type.Object({
    id: Type.String(),
    name: Type.String(),
    prefix: Type.String({ description: "The first characters of the secret, to tell keys apart." }),
    scopes: Type.Array(ScopeSchema),
    created_at: Type.String(),
    revoked_at: Type.Union([Type.String(), Type.Null()]),
    rps: Nullable(Rps),
    burst: Nullable(Burst),
    daily: Nullable(Daily),
    unlimited: Type.Boolean(),
    expires_at: Type.Union([Type.String(), Type.Null()], { description: "When the key stops working by itself; null for never." }),
    last_used_at: Type.Union([Type.String(), Type.Null()], { description: "When it last authenticated a request, to the minute; null if never." }),
    previous_key_expires_at: Type.Union([Type.String(), Type.Null()], { description: "After a rotation: until when the replaced secret still works; null when none does." })
});
export type ApiKey = Static<typeof ApiKeySchema>;

const ExpiresAt = Type.String({ format: "date-time", maxLength: 64, description: "ISO 8601 date-time after which the key stops working." });

export const CreatedApiKeySchema = Type.Intersect([ApiKeySchema, Type.Object({ key: Type.String({ description: "The secret. Shown once, never stored." }) })]);

export const CreateKeyRequestSchema = Type.Object(
    {
        name: Type.String({ minLength: 1, maxLength: 200 }),
        scopes: Type.Optional(Type.Array(ScopeSchema, { minItems: 1, maxItems: 4 })),
        rps: Type.Optional(Rps),
        burst: Type.Optional(Burst),
        daily: Type.Optional(Daily),
        unlimited: Type.Optional(Type.Boolean()),
        expires_at: Type.Optional(Nullable(ExpiresAt))
    },
    { additionalProperties: false }
);
export type CreateKeyRequest = Static<typeof CreateKeyRequestSchema>;

export const UpdateKeyRequestSchema = Type.Object(
    {
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        scopes: Type.Optional(Type.Array(ScopeSchema, { minItems: 1, maxItems: 4 })),
        rps: Type.Optional(Nullable(Rps)),
        burst: Type.Optional(Nullable(Burst)),
        daily: Type.Optional(Nullable(Daily)),
        unlimited: Type.Optional(Type.Boolean()),
        expires_at: Type.Optional(Nullable(ExpiresAt))
    },
    { additionalProperties: false, minProperties: 1 }
);
export type UpdateKeyRequest = Static<typeof UpdateKeyRequestSchema>;

/** Rotation: 3,600 s (an hour) of grace for the old secret unless given; 0 ends it at once; a week at most. */
export const RotateKeyRequestSchema = Type.Object(
    { grace_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 604_800, description: "How long the replaced secret keeps working. Defaults to 3600." })) },
    { additionalProperties: false }
);
export type RotateKeyRequest = Static<typeof RotateKeyRequestSchema>;

export const KeyListSchema = Type.Object({ object: Type.Literal("list"), data: Type.Array(ApiKeySchema) });

export const UsageRecordSchema = Type.Object({
    key_id: Type.String(),
    day: Type.String({ description: "UTC day, YYYY-MM-DD." }),
    requests: Type.Integer({ description: "Inference requests admitted that day (the daily-quota count)." }),
    prompt_tokens: Type.Integer(),
    completion_tokens: Type.Integer(),
    total_tokens: Type.Integer()
});

export const UsageResponseSchema = Type.Object({
    object: Type.Literal("list"),
    day: Type.String(),
    data: Type.Array(UsageRecordSchema)
});
export type UsageResponse = Static<typeof UsageResponseSchema>;

export const UsageQuerySchema = Type.Object(
    {
        day: Type.Optional(Type.String({ pattern: "^\\d{4}-\\d{2}-\\d{2}$", description: "UTC day; defaults to today." })),
        key_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "Admin keys only: one key's usage, or `all`." }))
    },
    { additionalProperties: false }
);
