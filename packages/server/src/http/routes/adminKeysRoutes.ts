import type { FastifyInstance } from "fastify";
import { Type } from "@sinclair/typebox";
import {
    ApiKeySchema,
    CreatedApiKeySchema,
    CreateKeyRequestSchema,
    KeyListSchema,
    QuandexError,
    UpdateKeyRequestSchema,
    type CreateKeyRequest,
    type UpdateKeyRequest
} from "@quandex/protocol";
import type { Scope } from "../../config/ConfigFileSchema.js";
import type { KeyStore } from "../../keys/ApiKey.js";
import { apiKeyJson } from "../../keys/apiKeyJson.js";
import { errorResponses } from "./errorResponses.js";

const KeyIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** Key management over REST, for admin keys: the same operations as `quandex keys`. */
export function adminKeysRoutes(app: FastifyInstance, deps: { keys: KeyStore; defaultScopes: readonly Scope[] }): void {
    const { keys } = deps;
    const tags = ["admin"];

    app.post<{ Body: CreateKeyRequest }>(
        "/v1/admin/keys",
        { config: { scope: "admin" }, schema: { summary: "Create a key; the secret is in this answer only", tags, body: CreateKeyRequestSchema, response: { 201: CreatedApiKeySchema, ...errorResponses } } },
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
                }
            });
            return reply.code(201).send({ ...apiKeyJson(record), key: secret });
        }
    );

    app.get(
        "/v1/admin/keys",
        { config: { scope: "admin" }, schema: { summary: "List keys, without secrets", tags, response: { 200: KeyListSchema, ...errorResponses } } },
        async () => ({ object: "list" as const, data: (await keys.list()).map(apiKeyJson) })
    );

    app.patch<{ Params: { id: string }; Body: UpdateKeyRequest }>(
        "/v1/admin/keys/:id",
        {
            config: { scope: "admin" },
            schema: { summary: "Change a key's name, scopes or limits (null restores the default)", tags, params: KeyIdParams, body: UpdateKeyRequestSchema, response: { 200: ApiKeySchema, ...errorResponses } }
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
                }
            });
            if (!record) throw new QuandexError("key_not_found", { id: request.params.id }, { param: "id" });
            return apiKeyJson(record);
        }
    );

    app.delete<{ Params: { id: string } }>(
        "/v1/admin/keys/:id",
        { config: { scope: "admin" }, schema: { summary: "Revoke a key; it stops working at once", tags, params: KeyIdParams, response: { 200: ApiKeySchema, ...errorResponses } } },
        async (request) => {
            if (!(await keys.revoke(request.params.id))) throw new QuandexError("key_not_found", { id: request.params.id }, { param: "id" });
            return apiKeyJson((await keys.get(request.params.id))!);
        }
    );
}
