import type { FastifyInstance } from "fastify";
import { HealthResponseSchema, type HealthResponse } from "@quandex/protocol";
import type { AccessGuard } from "../access/AccessGuard.js";
import { policies } from "../access/RoutePolicy.js";
import type { Lifecycle } from "../Lifecycle.js";

/** Liveness and readiness, without a key, for load balancers and orchestrators. 503 when not ready. */
export function healthRoute(app: FastifyInstance, access: AccessGuard, lifecycle: Lifecycle): void {
    app.get(
        "/health",
        {
            onRequest: access.guard(policies.public),
            schema: { summary: "Liveness and readiness (no key needed)", tags: ["monitoring"], response: { 200: HealthResponseSchema, 503: HealthResponseSchema } }
        },
        async (_request, reply) => {
            const status: HealthResponse["status"] = lifecycle.draining ? "shutting_down" : lifecycle.ready ? "ok" : "starting";
            const ready = lifecycle.ready && !lifecycle.draining;
            return reply.code(ready ? 200 : 503).send({ status, live: true, ready, uptime_seconds: Math.round((Date.now() - lifecycle.startedAt) / 100) / 10 });
        }
    );
}
