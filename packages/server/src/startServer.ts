import { ModelPuller, InferenceService, ModelRegistry, Scheduler, UpstreamEngine, type Engine, type Logger } from "@quandex/engine";
import { chooseEngine, type EngineChoice } from "./chooseEngine.js";
import { ClusterStats } from "./cluster/ClusterStats.js";
import { formatBytes } from "@quandex/protocol";
import { resolveMemoryBudget } from "./config/MemoryBudget.js";
import type { FastifyInstance } from "fastify";
import { createLogger } from "./observability/createLogger.js";
import { recordConfigChange } from "./observability/recordConfigChange.js";
import { loadConfig, type ConfigFlags } from "./config/loadConfig.js";
import type { ServerConfig } from "./config/ServerConfig.js";
import { buildApp } from "./http/buildApp.js";
import { Lifecycle } from "./http/Lifecycle.js";
import { openDatabase } from "./storage/openDatabase.js";
import { createStores, limitDefaults, type Stores } from "./createStores.js";
import { LimitsGate } from "./http/access/LimitsGate.js";

/**
 * The one line a user on the in-process engine sees about the faster one (README, "Engines"):
 * measured on 2 cores, 8 streams of an 85M model (BENCHMARKS.md, 2026-11-26: 269 against 113 tok/s).
 */
export const fasterEngineHint =
    "serving in-process; `bash scripts/build-engine.sh` builds llama-server once (6-15 min on 2 cores), which served 2.4x the throughput at 8 concurrent streams here; the next start picks it up";

export interface RunningServer {
    app: FastifyInstance;
    config: ServerConfig;
    url: string;
    /** Drains (up to the grace period), then aborts what is left, disposes everything and resolves. */
    shutdown(): Promise<void>;
}

/**
 * The composition root: config → engine → registry → scheduler → app. Everything created here is
 * disposed by `shutdown`, in reverse order, after requests have drained.
 */
export async function startServer(flags: ConfigFlags, options: { engine?: Engine } = {}): Promise<RunningServer> {
    // Validate before the engine starts, so a bad config fails fast; the thread default is only
    // known once the engine says which build it runs, hence the second, identical read.
    const early = loadConfig({ flags });
    const logger = createLogger({ level: early.logLevel, format: early.logFormat });
    const choice: EngineChoice = options.engine
        ? { engine: options.engine, requested: early.engine.type, reason: "given by the caller" }
        : await chooseEngine(early, logger as unknown as Logger);
    // Upstream pools' models load through the same scheduler as local ones (UpstreamEngine routes them).
    const engine: Engine = early.upstreams.length > 0 ? new UpstreamEngine(choice.engine, early.upstreams, logger as unknown as Logger) : choice.engine;
    logger.info({ engine: engine.info().name, requested: choice.requested, reason: choice.reason }, "engine chosen");
    if (engine.info().name === "node-llama-cpp" && choice.requested === "auto") {
        logger.info(fasterEngineHint);
    }
    const config: ServerConfig = loadConfig({ flags });
    const db = openDatabase(config.dataDir);
    let stores: Stores;
    try {
        stores = await createStores(config, db, logger);
    } catch (error) {
        db.close();
        await engine.dispose();
        throw error;
    }
    const { keys, limitStore, authFailures, audit } = stores;
    try {
        const entry = await recordConfigChange(audit, config);
        if (entry) logger.info({ changed: entry.detail.changed, audit_id: entry.id }, "configuration changed since the last boot (audit log)");
    } catch (error) {
        logger.error({ err: error }, "configuration change not recorded in the audit log");
    }
    let registry: ModelRegistry;
    try {
        const upstreamModels = engine instanceof UpstreamEngine ? await engine.upstreamModels() : [];
        registry = new ModelRegistry({
            modelsDir: config.modelsDir,
            configured: [...config.models, ...upstreamModels],
            defaults: config.modelDefaults,
            onWarning: (message) => logger.warn(message)
        });
    } catch (error) {
        await stores.dispose();
        db.close();
        await engine.dispose();
        throw error;
    }
    // A share of memory is taken of what the device has free for models now, before any loads.
    const device = await engine.device();
    const memoryBudgetBytes = resolveMemoryBudget(config.memoryBudget, device.memoryAvailableBytes);
    logger.info(
        {
            budget: formatBytes(memoryBudgetBytes),
            budgetBytes: memoryBudgetBytes,
            of:
                config.memoryBudget.kind === "share"
                    ? `${Math.round(config.memoryBudget.ratio * 100)}% of ${formatBytes(device.memoryAvailableBytes)} ${device.backend === "cpu" ? "available RAM" : "free VRAM"}`
                    : "configured"
        },
        "memory budget for loaded models"
    );
    const scheduler = new Scheduler({
        engine,
        maxQueue: config.maxQueue,
        queueTimeoutMs: config.requestTimeoutMs,
        memoryBudgetBytes,
        defaultKeepAliveMs: config.defaultKeepAliveMs,
        logger: logger as unknown as Logger
    });
    const puller = new ModelPuller({
        modelsDir: config.modelsDir,
        hfToken: config.hfToken,
        ...(config.hfEndpoint !== null && { hfEndpoint: config.hfEndpoint }),
        onPlaced: () => registry.refresh(),
        logger: logger as unknown as Logger
    });
    const service = new InferenceService(registry, scheduler, undefined, puller);
    const lifecycle = new Lifecycle();
    const limits = new LimitsGate(limitStore, limitDefaults(config), logger);
    // Replicas sharing a Redis publish their stats there for `/v1/stats?scope=cluster`.
    const cluster = config.redisUrl
        ? await ClusterStats.connect({ redisUrl: config.redisUrl, onError: (error) => logger.debug({ err: String(error) }, "cluster stats not published") })
        : undefined;
    const app = await buildApp({
        ...(cluster && { cluster }),
        config,
        service,
        engine,
        keys,
        lifecycle,
        limits,
        authFailures,
        usage: limitStore,
        audit,
        engineSelection: { requested: choice.requested, reason: choice.reason },
        logger: logger.child({ component: "http" })
    });
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    const url = `${config.tls ? "https" : "http"}://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
    logger.info({ url, modelsDir: config.modelsDir, dataDir: config.dataDir, engine: engine.info() }, "quandex listening");
    if (!config.metrics.enabled) logger.info("GET /metrics is off (server.metrics.enabled: false)");
    else if (config.metrics.auth === "none") logger.warn({ url: `${url}/metrics` }, "GET /metrics is open to anyone who can reach this address (server.metrics.auth: none)");
    else logger.info({ url: `${url}/metrics` }, "GET /metrics needs a key with the metrics or admin scope");

    if (service.hasPreloads) {
        void service.preload().then(() => {
            lifecycle.ready = true;
        });
    } else {
        lifecycle.ready = true;
    }

    let shuttingDown: Promise<void> | undefined;
    const shutdown = (): Promise<void> => {
        shuttingDown ??= (async () => {
            lifecycle.draining = true;
            scheduler.close();
            logger.info({ graceMs: config.shutdownGraceMs }, "shutting down: draining in-flight requests");
            const closed = app.close();
            // Keep-alive sockets that go idle after close() began would otherwise hold the process
            // open for the keep-alive timeout (72 s).
            const reaper = setInterval(() => app.server.closeIdleConnections(), 100);
            const grace = setTimeout(() => {
                logger.warn("grace period over: aborting the requests still running");
                lifecycle.stopNow();
            }, config.shutdownGraceMs);
            await closed;
            clearTimeout(grace);
            clearInterval(reaper);
            await puller.close();
            await cluster?.close();
            await scheduler.dispose();
            registry.dispose();
            await engine.dispose();
            await stores.dispose();
            db.close();
            logger.info("shutdown complete");
        })();
        return shuttingDown;
    };
    return { app, config, url, shutdown };
}
