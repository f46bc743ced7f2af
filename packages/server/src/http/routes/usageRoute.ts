import type { FastifyInstance } from "fastify";
import { QuandexError, UsageQuerySchema, UsageResponseSchema, type UsageResponse } from "@quandex/protocol";
import type { LimitStore } from "../../limits/LimitStore.js";
import { utcDay } from "../../limits/utcDay.js";
import type { AccessGuard } from "../access/AccessGuard.js";
import { policies } from "../access/RoutePolicy.js";
import { errorResponses } from "./errorResponses.js";

/**
 * Token usage per key per UTC day. A key sees its own; an admin key may ask for another key
 * (`key_id=<id>`) or every key (`key_id=all`).
 */
export function usageRoute(app: FastifyInstance, access: AccessGuard, store: LimitStore): void {
    app.get<{ Querystring: { day?: string; key_id?: string } }>(
        "/v1/usage",
        {
            onRequest: access.guard(policies.read),
            schema: {
                summary: "Requests and tokens per key for one UTC day",
                tags: ["monitoring"],
                querystring: UsageQuerySchema,
                response: { 200: UsageResponseSchema, ...errorResponses }
            }
        },
        async (request): Promise<UsageResponse> => {
            const key = request.apiKey!;
            const asked = request.query.key_id;
            if (asked !== undefined && asked !== key.id && !key.scopes.includes("admin")) {
                throw new QuandexError("insufficient_scope", { scope: "admin" });
            }
            const day = request.query.day ?? utcDay(Date.now());
            const target = asked === "all" ? null : (asked ?? key.id);
            const records = await store.getUsage(target, day);
            const data = records.map((r) => ({
                key_id: r.keyId,
                day: r.day,
                requests: r.requests,
                prompt_tokens: r.promptTokens,
                completion_tokens: r.completionTokens,
                total_tokens: r.totalTokens
            }));
            if (target !== null && data.length === 0) data.push({ key_id: target, day, requests: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
            return { object: "list", day, data };
        }
    );
}
