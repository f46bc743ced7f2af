import type { FastifyInstance } from "fastify";
import { AuditListSchema, AuditQuerySchema, QuandexError, type AuditList, type AuditQuery } from "@quandex/protocol";
import type { AuditEntry, AuditLog } from "../../storage/AuditLog.js";
import type { AccessGuard } from "../access/AccessGuard.js";
import { policies } from "../access/RoutePolicy.js";
import { errorResponses } from "./errorResponses.js";

const defaultLimit = 50;
const maxLimit = 500;

/** `GET /v1/admin/audit`: the admin actions, newest first, a page at a time (`?limit&before`). */
export function auditRoute(app: FastifyInstance, access: AccessGuard, audit: AuditLog): void {
    app.get<{ Querystring: AuditQuery }>(
        "/v1/admin/audit",
        {
            onRequest: access.guard(policies.admin),
            schema: {
                summary: "Admin actions: keys created, changed, revoked, rotated; models loaded, unloaded, pulled, deleted; config changes",
                tags: ["admin"],
                querystring: AuditQuerySchema,
                response: { 200: AuditListSchema, ...errorResponses }
            }
        },
        async (request): Promise<AuditList> => {
            const limit = request.query.limit === undefined ? defaultLimit : Number(request.query.limit);
            if (limit < 1 || limit > maxLimit) {
                throw new QuandexError("invalid_parameter", { param: "limit", detail: `must be between 1 and ${maxLimit}.` }, { param: "limit" });
            }
            const before = request.query.before === undefined ? undefined : Number(request.query.before);
            if (before !== undefined && before < 1) throw new QuandexError("invalid_parameter", { param: "before", detail: "must be a positive entry id." }, { param: "before" });
            const page = await audit.list({ limit, ...(before !== undefined && { before }) });
            return { object: "list", data: page.entries.map(auditJson), has_more: page.nextBefore !== null, next_before: page.nextBefore };
        }
    );
}

function auditJson(entry: AuditEntry): AuditList["data"][number] {
    return {
        id: entry.id,
        at: entry.at,
        action: entry.action,
        actor: entry.actor,
        actor_name: entry.actorName,
        target: entry.target,
        request_id: entry.requestId,
        ip: entry.ip,
        detail: entry.detail
    };
}
