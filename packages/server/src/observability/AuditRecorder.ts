import type { FastifyInstance, FastifyReply, FastifyRequest, onSendHookHandler } from "fastify";
import type { Logger } from "pino";
import type { AuditLog } from "../storage/AuditLog.js";

interface AuditedRoute {
    action: string;
    /** What the action was on, from the request or (for a created key) the answer. */
    target(request: FastifyRequest, payload: unknown): string | null;
    /** What was asked, without secrets. */
    detail?(request: FastifyRequest): Record<string, unknown>;
}

const byId = (request: FastifyRequest): string | null => (request.params as { id?: string }).id ?? null;
const body = (request: FastifyRequest): Record<string, unknown> => ({ ...((request.body as Record<string, unknown> | undefined) ?? {}) });

/** The admin actions, by `METHOD url-template`. A route not declared (yet) is simply never matched. */
const auditedRoutes: Record<string, AuditedRoute> = {
    "POST /v1/admin/keys": { action: "key.created", target: (_request, payload) => idIn(payload), detail: body },
    "PATCH /v1/admin/keys/:id": { action: "key.updated", target: byId, detail: body },
    "DELETE /v1/admin/keys/:id": { action: "key.revoked", target: byId },
    "POST /v1/admin/keys/:id/rotate": { action: "key.rotated", target: byId, detail: body },
    "POST /v1/models/:id/load": { action: "model.loaded", target: byId },
    "POST /v1/models/:id/unload": { action: "model.unloaded", target: byId },
    "DELETE /v1/models/:id": { action: "model.deleted", target: byId },
    "POST /v1/models/pull": { action: "model.pulled", target: (request) => String(body(request).source ?? ""), detail: body }
};

/**
 * Records every successful admin action in the audit log, with who did it (the key's id and name),
 * from where, and the request id. It is attached, as an `onSend` hook, only to the routes above
 * (through `onRoute`, so it must be set up before they are declared): every other request pays
 * nothing. `onSend` rather than `onResponse` so the created key's id can be read from the answer,
 * and so a failed write is logged while the request is still known. The action has happened by
 * then; a store that fails to record it is logged as an error, not turned into a failed answer.
 */
export function recordAdminActions(app: FastifyInstance, audit: AuditLog, logger: Logger | undefined): void {
    app.addHook("onRoute", (route) => {
        const methods = Array.isArray(route.method) ? route.method : [route.method];
        for (const method of methods) {
            const audited = auditedRoutes[`${method} ${route.url}`];
            if (!audited) continue;
            const hook: onSendHookHandler = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
                if (reply.statusCode < 200 || reply.statusCode >= 300) return payload;
                const key = request.apiKey;
                try {
                    await audit.record({
                        action: audited.action,
                        actor: key ? `key:${key.id}` : "anonymous",
                        actorName: key?.name ?? null,
                        target: audited.target(request, payload),
                        requestId: request.id,
                        ip: request.ip,
                        detail: audited.detail?.(request) ?? {}
                    });
                } catch (error) {
                    (logger ?? request.log).error({ err: error, action: audited.action, request_id: request.id }, "audit entry not recorded");
                }
                return payload;
            };
            const existing = route.onSend;
            route.onSend = existing === undefined ? [hook] : [...(Array.isArray(existing) ? existing : [existing]), hook];
        }
    });
}

function idIn(payload: unknown): string | null {
    if (typeof payload !== "string") return null;
    try {
        const id = (JSON.parse(payload) as { id?: unknown }).id;
        return typeof id === "string" ? id : null;
    } catch {
        return null;
    }
}
