import type { FastifyInstance } from "fastify";
import { readTemperature, type Engine, type InferenceService } from "@quandex/engine";
import { formatBytes, formatDuration, StatsResponseSchema, type ModelStats, type StatsResponse } from "@quandex/protocol";
import type { AuthFailureLimiter } from "../../limits/AuthFailureLimiter.js";
import { errorResponses } from "./errorResponses.js";

export interface StatsRouteDeps {
    service: InferenceService;
    engine: Engine;
    maxQueue: number;
    startedAt: number;
    /** Root of sysfs, injectable so tests can fake a temperature sensor. Defaults to `/sys`. */
    sysRoot: string;
    authFailures?: AuthFailureLimiter;
}

export function statsRoute(app: FastifyInstance, deps: StatsRouteDeps): void {
    app.get(
        "/v1/stats",
        {
            config: { scope: "read" },
            schema: { summary: "Device, engine and per-model statistics", tags: ["monitoring"], response: { 200: StatsResponseSchema, ...errorResponses } }
        },
        async (): Promise<StatsResponse> => {
            const { service, engine } = deps;
            const [device, temperature] = await Promise.all([engine.device(), readTemperature(deps.sysRoot)]);
            const info = engine.info();
            const models: Record<string, ModelStats> = {};
            for (const definition of service.registry.list()) {
                const snapshot = service.scheduler.snapshot(definition);
                const m = service.metricsFor(definition.id).snapshot();
                models[definition.id] = {
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
                    completion_tokens_total: m.completionTokensTotal
                };
            }
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
                engine: { name: info.name, version: info.version, build: info.build, llama_cpp_release: info.llamaCppRelease, threads: info.defaultThreads },
                server: {
                    uptime_seconds: round((Date.now() - deps.startedAt) / 1000, 1),
                    queue_depth: service.scheduler.queueDepth,
                    max_queue: deps.maxQueue,
                    active_sequences: service.scheduler.activeSequences,
                    rss_bytes: process.memoryUsage.rss(),
                    auth_failures_total: deps.authFailures?.stats().failuresTotal ?? 0,
                    auth_blocked_total: deps.authFailures?.stats().blockedTotal ?? 0
                },
                models
            };
        }
    );
}

function round(value: number, digits: number): number {
    const factor = 10 ** digits;
    return Math.round(value * factor) / factor;
}
