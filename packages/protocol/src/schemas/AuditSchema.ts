import { Type, type Static } from "@sinclair/typebox";

/** One admin action, as `GET /v1/admin/audit` lists it. Never a secret: keys appear by id. */
export const AuditEntrySchema = Type.Object({
    id: Type.Integer({ description: "Increasing; pass the last one seen as `before` for the next page." }),
    at: Type.String({ description: "When it happened (ISO 8601, UTC)." }),
    action: Type.String({ description: "key.created, key.updated, key.revoked, key.rotated, model.loaded, model.unloaded, model.pulled, model.deleted, config.changed." }),
    actor: Type.String({ description: "Who did it: `key:<id>` for an API key, `cli` for the quandex CLI, `config` for a change seen at boot." }),
    actor_name: Type.Union([Type.String(), Type.Null()], { description: "The acting key's name when it had one." }),
    target: Type.Union([Type.String(), Type.Null()], { description: "What it acted on: a key id, a model id, a pull source." }),
    request_id: Type.Union([Type.String(), Type.Null()]),
    ip: Type.Union([Type.String(), Type.Null()]),
    detail: Type.Record(Type.String(), Type.Unknown())
});
export type AuditEntryJson = Static<typeof AuditEntrySchema>;

export const AuditListSchema = Type.Object({
    object: Type.Literal("list"),
    data: Type.Array(AuditEntrySchema),
    has_more: Type.Boolean(),
    /** The `before` of the next page, `null` on the last one. */
    next_before: Type.Union([Type.Integer(), Type.Null()])
});
export type AuditList = Static<typeof AuditListSchema>;

export const AuditQuerySchema = Type.Object(
    {
        // Query strings are not coerced (the server's ajv runs with coerceTypes off): digits, range-checked by the route.
        limit: Type.Optional(Type.String({ pattern: "^[0-9]{1,4}$", description: "Entries per page, newest first: 1 to 500 (default 50)." })),
        before: Type.Optional(Type.String({ pattern: "^[0-9]{1,15}$", description: "Only entries with a smaller id (the previous page's `next_before`)." }))
    },
    { additionalProperties: false }
);
export type AuditQuery = Static<typeof AuditQuerySchema>;
