import type { FastifyInstance } from "fastify";
import { Type } from "@sinclair/typebox";
import {
    ApiKeySchema,
    CreatedApiKeySchema,
    CreateKeyRequestSchema,
    KeyListSchema,
    QuandexError,
    RotateKeyRequestSchema,
    UpdateKeyRequestSchema,
    type CreateKeyRequest,
    type RotateKeyRequest,
    type UpdateKeyRequest
} from "@quandex/protocol";
import type { Scope } from "../../config/ConfigFileSchema.js";
import { defaultRotationGraceMs, type KeyStore } from "../../keys/ApiKey.js";
import { apiKeyJson } from "../../keys/apiKeyJson.js";
import type { AccessGuard } from "../access/AccessGuard.js";
import { policies } from "../access/RoutePolicy.js";
import { errorResponses } from "./errorResponses.js";

const KeyIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** Key management over REST, for admin keys: the same operations as `quandex keys`. */
export function adminKeysRoutes(app: FastifyInstance, access: AccessGuard, deps: { keys: KeyStore; defaultScopes: readonly Scope[] }): void {
    const { keys } = deps;
    const tags = ["admin"];
    const onRequest = access.guard(policies.admin);

    app.post<{ Body: CreateKeyRequest }>(
        "/v1/admin/keys",
        {
            onRequest,
            schema: { summary: "Create a key; the secret is in this answer only", tags, body: CreateKeyRequestSchema, response: { 201: CreatedApiKeySchema, ...errorResponses } }
        },
        async (request, reply) => {
            const body = request.body;
            const { record, secret } = await keys.create({
                name: body.name,
                scopes: body.scopes ?? deps.defaultScopes,
                limits: {
                    ...(body.rps !== undefined && { rps: body.rps }),
                    ...(body.burst !== undefined && { burst: body.burst }),
                    ...(body.daily !== undefined && { daily: body.daily }),
                    ...(body.unlimited !== undefined && { unlimited: body.unlimited })
                },
                expiresAt: expiresAtFrom(body.expires_at, true)
            });
            return reply.code(201).send({ ...apiKeyJson(record), key: secret });
        }
    );

    app.get("/v1/admin/keys", { onRequest, schema: { summary: "List keys, without secrets", tags, response: { 200: KeyListSchema, ...errorResponses } } }, async () => ({
        object: "list" as const,
        data: (await keys.list()).map(apiKeyJson)
    }));

    app.patch<{ Params: { id: string }; Body: UpdateKeyRequest }>(
        "/v1/admin/keys/:id",
        {
            onRequest,
            schema: {
                summary: "Change a key's name, scopes or limits (null restores the default)",
                tags,
                params: KeyIdParams,
                body: UpdateKeyRequestSchema,
                response: { 200: ApiKeySchema, ...errorResponses }
            }
        },
        async (request) => {
            const body = request.body;
            const record = await keys.update(request.params.id, {
                name: body.name,
                scopes: body.scopes,
                limits: {
                    ...(body.rps !== undefined && { rps: body.rps }),
                    ...(body.burst !== undefined && { burst: body.burst }),
                    ...(body.daily !== undefined && { daily: body.daily }),
                    ...(body.unlimited !== undefined && { unlimited: body.unlimited })
                },
                ...(body.expires_at !== undefined && { expiresAt: expiresAtFrom(body.expires_at, false) })
            });
            if (!record) throw new QuandexError("key_not_found", { id: request.params.id }, { param: "id" });
            return apiKeyJson(record);
        }
    );

    app.post<{ Params: { id: string }; Body: RotateKeyRequest | undefined }>(
        "/v1/admin/keys/:id/rotate",
        {
            onRequest,
            // The body is optional: with none, the default grace applies.
            preValidation: async (request) => {
                request.body ??= {};
            },
            schema: {
                summary: "Give a key a new secret (in this answer only); the old one works for grace_seconds more (default 3600)",
                tags,
                params: KeyIdParams,
                body: RotateKeyRequestSchema,
                response: { 200: CreatedApiKeySchema, ...errorResponses }
            }
        },
        async (request) => {
            const graceMs = request.body?.grace_seconds === undefined ? defaultRotationGraceMs : request.body.grace_seconds * 1000;
            const rotated = await keys.rotate(request.params.id, graceMs);
            if (!rotated) throw new QuandexError("key_not_found", { id: request.params.id }, { param: "id" });
            return { ...apiKeyJson(rotated.record), key: rotated.secret };
        }
    );

    app.delete<{ Params: { id: string } }>(
        "/v1/admin/keys/:id",
        { onRequest, schema: { summary: "Revoke a key; it stops working at once", tags, params: KeyIdParams, response: { 200: ApiKeySchema, ...errorResponses } } },
        async (request) => {
            if (!(await keys.revoke(request.params.id))) throw new QuandexError("key_not_found", { id: request.params.id }, { param: "id" });
            return apiKeyJson((await keys.get(request.params.id))!);
        }
    );
}

/** The stored form of `expires_at` (ISO 8601, UTC). A new key must not be born expired. */
function expiresAtFrom(value: string | null | undefined, mustBeFuture: boolean): string | null {
    if (value === undefined || value === null) return null;
    const ms = Date.parse(value);
    if (!Number.isFinite(ms)) throw new QuandexError("invalid_parameter", { param: "expires_at", detail: "not a date-time." }, { param: "expires_at" });
    if (mustBeFuture && ms <= Date.now()) throw new QuandexError("invalid_parameter", { param: "expires_at", detail: "it is in the past." }, { param: "expires_at" });
    return new Date(ms).toISOString();
}
