import type { DeviceInfo, Engine, EngineInfo, LoadRequest, ModelRunner } from "../Engine.js";
import type { Logger } from "../Logger.js";
import type { ConfiguredModel } from "../registry/ModelRegistry.js";
import { UpstreamPool } from "./UpstreamPool.js";
import { upstreamPoolDefaults, type UpstreamPoolConfig } from "./UpstreamPoolConfig.js";
import { UpstreamRunner } from "./UpstreamRunner.js";

/** The `path` of an upstream model's definition: `upstream:<pool>/<upstream model>` (pool names hold no `/`). */
function upstreamModelPath(pool: string, upstreamModel: string): string {
    return `upstream:${pool}/${upstreamModel}`;
}

function parseUpstreamPath(path: string): { pool: string; upstreamModel: string } | null {
    const match = /^upstream:([^/]+)\/(.+)$/.exec(path);
    return match ? { pool: match[1]!, upstreamModel: match[2]! } : null;
}

/**
 * The server's engine when upstream pools are configured: a model whose path is
 * `upstream:<pool>/<model>` loads as an {@link UpstreamRunner} on that pool (at once: nothing is
 * loaded, the pool's servers hold the model), every other model on the local engine. So upstream
 * models share the scheduler, its queue and the one request path with local ones.
 */
export class UpstreamEngine implements Engine {
    private readonly pools = new Map<string, UpstreamPool>();

    constructor(
        private readonly local: Engine,
        configs: readonly UpstreamPoolConfig[],
        private readonly logger: Logger
    ) {
        for (const config of configs) {
            const pool = new UpstreamPool(config, logger);
            this.pools.set(config.name, pool);
            pool.start();
        }
    }

    pool(name: string): UpstreamPool | undefined {
        return this.pools.get(name);
    }

    /**
     * The models each pool serves: those configured, plus, for a pool with `discover`, every model
     * its `/v1/models` lists (under the upstream's name) that no configured one already maps.
     * @throws Error when a discovering pool has no endpoint that lists its models.
     */
    async upstreamModels(): Promise<ConfiguredModel[]> {
        const models: ConfiguredModel[] = [];
        for (const pool of this.pools.values()) {
            const { config } = pool;
            // Loaded at boot and never unloaded: "loading" one only makes its runner.
            const entry = (id: string, aliases: readonly string[], upstreamModel: string, contextSize: number): ConfiguredModel => ({
                id,
                path: upstreamModelPath(config.name, upstreamModel),
                aliases,
                options: { contextSize, parallel: config.maxConcurrency },
                preload: true,
                keepAliveMs: null,
                upstream: { pool: config.name, model: upstreamModel, health: () => pool.health() }
            });
            for (const m of config.models) models.push(entry(m.id, m.aliases, m.upstreamModel, m.contextSize));
            if (!config.discover) continue;
            const mapped = new Set(config.models.map((m) => m.upstreamModel));
            for (const name of await pool.discover()) {
                if (mapped.has(name)) continue;
                models.push(entry(name, [], name, upstreamPoolDefaults.contextSize));
            }
        }
        return models;
    }

    info(): EngineInfo {
        return this.local.info();
    }

    async load(request: LoadRequest): Promise<ModelRunner> {
        const upstream = parseUpstreamPath(request.path);
        if (!upstream) return this.local.load(request);
        const pool = this.pools.get(upstream.pool);
        if (!pool) throw new Error(`there is no upstream pool '${upstream.pool}'`);
        this.logger.info({ model: request.id, pool: pool.name, upstreamModel: upstream.upstreamModel, ...pool.health() }, "upstream model ready");
        return new UpstreamRunner(pool, { id: request.id, upstreamModel: upstream.upstreamModel }, request.options.contextSize, request.options.parallel, this.logger);
    }

    async estimate(request: Omit<LoadRequest, "signal">): Promise<number> {
        if (parseUpstreamPath(request.path)) return 0;
        return this.local.estimate ? this.local.estimate(request) : 0;
    }

    device(): Promise<DeviceInfo> {
        return this.local.device();
    }

    async dispose(): Promise<void> {
        const results = await Promise.allSettled([...[...this.pools.values()].map((p) => p.close()), this.local.dispose()]);
        const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed) throw failed.reason;
    }
}
