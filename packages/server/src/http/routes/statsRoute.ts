import type { FastifyInstance } from "fastify";
import { readTemperature, type Engine, type InferenceService } from "@quandex/engine";
import { formatBytes, formatDuration, QuandexError, StatsQuerySchema, StatsResponseSchema, type ModelStats, type StatsResponse } from "@quandex/protocol";
import type { Static } from "@sinclair/typebox";
import type { ClusterStats } from "../../cluster/ClusterStats.js";
import { storeUnavailableError } from "../../storage/storeUnavailableError.js";

type StatsQuery = Static<typeof StatsQuerySchema>;
import type { AuthFailureLimiter } from "../../limits/AuthFailureLimiter.js";
import type { AccessGuard } from "../access/AccessGuard.js";
import { policies } from "../access/RoutePolicy.js";
import { errorResponses } from "./errorResponses.js";

export interface StatsRouteDeps {
    service: InferenceService;
    engine: Engine;
    maxQueue: number;
    startedAt: number;
    /** Root of sysfs, injectable so tests can fake a temperature sensor. Defaults to `/sys`. */
    sysRoot: string;
    authFailures?: AuthFailureLimiter;
    /** How the engine was chosen, for `engine.requested` and `engine.reason`. */
    engineSelection: { requested: string; reason: string };
    /** With a shared Redis: publishes these stats for the cluster and answers `?scope=cluster`. */
    cluster?: ClusterStats;
}

export function statsRoute(app: FastifyInstance, access: AccessGuard, deps: StatsRouteDeps): void {
    const collect = (): Promise<StatsResponse> => collectStats(deps);
    deps.cluster?.publishFrom(collect);
    app.get<{ Querystring: StatsQuery }>(
        "/v1/stats",
        {
            onRequest: access.guard(policies.read),
            schema: {
                summary: "Device, engine and per-model statistics",
                description: "`?scope=cluster` adds `cluster`: what every replica sharing this server's Redis last published.",
                tags: ["monitoring"],
                querystring: StatsQuerySchema,
                response: { 200: StatsResponseSchema, ...errorResponses }
            }
        },
        async (request): Promise<StatsResponse> => {
            const stats = await collect();
            if (request.query.scope !== "cluster") return stats;
            if (!deps.cluster)
                throw new QuandexError(
                    "invalid_parameter",
                    { param: "scope", detail: "this server shares no Redis with other replicas (server.redis_url), so it has no cluster view." },
                    { param: "scope" }
                );
            const cluster = await deps.cluster.read().catch((error: unknown) => {
                throw storeUnavailableError("Redis", error);
            });
            return { ...stats, cluster };
        }
    );
}

/** This replica's `/v1/stats` body. */
async function collectStats(deps: StatsRouteDeps): Promise<StatsResponse> {
    const { service, engine } = deps;
    const [device, temperature] = await Promise.all([engine.device(), readTemperature(deps.sysRoot)]);
    const info = engine.info();
    const models: Record<string, ModelStats> = {};
    for (const snapshot of service.models()) {
        const id = snapshot.definition.id;
        const m = service.metricsFor(id).snapshot();
        models[id] = {
            requests_per_second: round(m.requestsPerSecond, 3),
            average_latency: m.averageLatencyMs === null ? "0ms" : formatDuration(m.averageLatencyMs),
            average_latency_ms: m.averageLatencyMs === null ? null : round(m.averageLatencyMs, 2),
            error_rate: `${round(m.errorRatio * 100, 2)}%`,
            error_rate_ratio: round(m.errorRatio, 4),
            p50_latency_ms: m.p50LatencyMs === null ? null : round(m.p50LatencyMs, 2),
            p95_latency_ms: m.p95LatencyMs === null ? null : round(m.p95LatencyMs, 2),
            output_tokens_per_second: round(m.outputTokensPerSecond, 2),
            active_sequences: snapshot.active,
            queue_depth: snapshot.waiting,
            requests_total: m.requestsTotal,
            errors_total: m.errorsTotal,
            completion_tokens_total: m.completionTokensTotal,
            prompt_tokens_total: m.promptTokensTotal,
            cached_prompt_tokens_total: m.cachedPromptTokensTotal
        };
    }
    const status = service.status();
    return {
        metal_device: {
            name: device.name,
            backend: device.backend,
            memory_allocated: formatBytes(device.memoryAllocatedBytes),
            memory_allocated_bytes: device.memoryAllocatedBytes,
            memory_available: formatBytes(device.memoryAvailableBytes),
            memory_available_bytes: device.memoryAvailableBytes,
            temperature: temperature === null ? null : `${Math.round(temperature)}C`,
            temperature_celsius: temperature
        },
        engine: {
            name: info.name,
            version: info.version,
            build: info.build,
            llama_cpp_release: info.llamaCppRelease,
            threads: info.defaultThreads,
            requested: deps.engineSelection.requested,
            reason: deps.engineSelection.reason
        },
        server: {
            uptime_seconds: round((Date.now() - deps.startedAt) / 1000, 1),
            queue_depth: status.queueDepth,
            max_queue: deps.maxQueue,
            active_sequences: status.activeSequences,
            rss_bytes: process.memoryUsage.rss(),
            auth_failures_total: deps.authFailures?.stats().failuresTotal ?? 0,
            auth_blocked_total: deps.authFailures?.stats().blockedTotal ?? 0
        },
        memory: {
            budget: status.memory.budgetBytes === null ? null : formatBytes(status.memory.budgetBytes),
            budget_bytes: status.memory.budgetBytes,
            committed: formatBytes(status.memory.committedBytes),
            committed_bytes: status.memory.committedBytes,
            evictions_total: status.memory.evictionsTotal
        },
        models
    };
}

function round(value: number, digits: number): number {
    const factor = 10 ** digits;
    return Math.round(value * factor) / factor;
}
