import { LlamaServerEngine, NodeLlamaEngine, InferenceService, ModelRegistry, Scheduler, type Engine, type Logger } from "@quandex/engine";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { loadConfig, type ConfigFlags } from "./config/loadConfig.js";
import type { ServerConfig } from "./config/ServerConfig.js";
import { buildApp } from "./http/buildApp.js";
import { Lifecycle } from "./http/Lifecycle.js";
import { openDatabase } from "./keys/openDatabase.js";
import { createLimitStores, limitDefaults, type LimitStores } from "./limits/createLimitStores.js";
import { LimitsGate } from "./http/LimitsGate.js";

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
    const logger = pino({ level: early.logLevel });
    const engine =
        options.engine ??
        (early.engine.type === "llama-server"
            ? await LlamaServerEngine.create({ binaryPath: early.engine.path!, gpu: early.engine.gpu, logger: logger as unknown as Logger })
            : await NodeLlamaEngine.create({ gpu: early.engine.gpu, build: early.engine.build, logger: logger as unknown as Logger }));
    const config: ServerConfig = loadConfig({ flags });
    const db = openDatabase(config.dataDir);
    let stores: LimitStores;
    try {
        stores = await createLimitStores(config, db, logger);
    } catch (error) {
        db.close();
        await engine.dispose();
        throw error;
    }
    const { keys, limitStore, authFailures } = stores;
    let registry: ModelRegistry;
    try {
        registry = new ModelRegistry({
            modelsDir: config.modelsDir,
            configured: config.models,
            defaults: config.modelDefaults,
            onWarning: (message) => logger.warn(message)
        });
    } catch (error) {
        await stores.dispose();
        db.close();
        await engine.dispose();
        throw error;
    }
    const scheduler = new Scheduler({ engine, maxQueue: config.maxQueue, queueTimeoutMs: config.requestTimeoutMs, logger: logger as unknown as Logger });
    const service = new InferenceService(registry, scheduler);
    const lifecycle = new Lifecycle();
    const limits = new LimitsGate(limitStore, limitDefaults(config), logger);
    const app = await buildApp({
        config,
        service,
        engine,
        keys,
        lifecycle,
        limits,
        authFailures,
        usage: limitStore,
        logger: logger.child({ component: "http" })
    });
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
    logger.info({ url, modelsDir: config.modelsDir, dataDir: config.dataDir, engine: engine.info() }, "quandex listening");

    const preloads = registry.list().filter((d) => d.preload);
    void Promise.all(preloads.map((d) => scheduler.loadAndWait(d))).then(() => {
        lifecycle.ready = true;
    });
    if (preloads.length === 0) lifecycle.ready = true;

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
