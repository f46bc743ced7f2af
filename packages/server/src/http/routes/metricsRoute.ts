import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { QuandexMetrics } from "../../observability/QuandexMetrics.js";
import type { AccessGuard } from "../access/AccessGuard.js";
import { policies } from "../access/RoutePolicy.js";
import { errorResponses } from "./errorResponses.js";

/**
 * `GET /metrics`, Prometheus text exposition. Behind a key with the `metrics` (or `admin`) scope,
 * like every route, unless `server.metrics.auth` is `none` (a scraper on a private network).
 */
export function metricsRoute(app: FastifyInstance, access: AccessGuard, metrics: QuandexMetrics, auth: "key" | "none"): void {
    app.get(
        "/metrics",
        {
            onRequest: access.guard(auth === "none" ? policies.public : policies.metrics),
            schema: {
                summary: "Prometheus metrics",
                description: "Counters, histograms and gauges named quandex_*, plus Node's process metrics. The token and request totals are the ones /v1/stats reports.",
                tags: ["monitoring"],
                response: { 200: Type.String({ description: "Prometheus text format 0.0.4." }), ...errorResponses }
            }
        },
        async (_request, reply) => {
            const text = await metrics.render();
            return reply.type(metrics.contentType).send(text);
        }
    );
}
