import os from "node:os";
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { ClusterModelStats, StatsResponse } from "@quandex/protocol";
import { connectRedis } from "../storage/connectRedis.js";

/** What one replica publishes: its own `/v1/stats` figures that add up across replicas. */
interface Published {
    id: string;
    published_at: string;
    uptime_seconds: number;
    queue_depth: number;
    active_sequences: number;
    models: StatsResponse["models"];
}

export type ClusterView = NonNullable<StatsResponse["cluster"]>;

export interface ClusterStatsOptions {
    redisUrl: string;
    /** Key prefix, shared by the replicas of one cluster. Defaults to `quandex:cluster:`. */
    prefix?: string;
    /** How often this replica publishes. Defaults to `1000` ms. */
    intervalMs?: number;
    /** A replica that stops publishing drops out of the view after this. Defaults to `5000` ms. */
    ttlMs?: number;
    onError?: (error: unknown) => void;
}

/**
 * The cluster view of `/v1/stats?scope=cluster`: each replica writes its own figures to Redis
 * about once a second, under its own key with a TTL (so a replica that died drops out on its own,
 * with no membership to clean up), and any replica reads every key back and sums the counters per
 * model. Keys, limits and usage need nothing from here: they already live in the shared Redis
 * (`keys/RedisKeyStore.ts`, `limits/RedisLimitStore.ts`), read on every request, so a key revoked
 * on one replica is refused by the next request on any other.
 */
export class ClusterStats {
    readonly replicaId = `${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
    private timer: NodeJS.Timeout | null = null;
    private source: (() => Promise<StatsResponse>) | null = null;
    private readonly prefix: string;
    private readonly intervalMs: number;
    private readonly ttlMs: number;

    private constructor(
        private readonly redis: Redis,
        private readonly options: ClusterStatsOptions
    ) {
        this.prefix = options.prefix ?? "quandex:cluster:";
        this.intervalMs = options.intervalMs ?? 1_000;
        this.ttlMs = options.ttlMs ?? 5_000;
    }

    static async connect(options: ClusterStatsOptions): Promise<ClusterStats> {
        return new ClusterStats(await connectRedis(options.redisUrl), options);
    }

    /** Starts publishing what `source` answers (this replica's `/v1/stats`); the first at once. */
    publishFrom(source: () => Promise<StatsResponse>): void {
        this.source = source;
        if (this.timer) return;
        void this.publish();
        this.timer = setInterval(() => void this.publish(), this.intervalMs);
        this.timer.unref();
    }

    /** Publishes now (tests and the first round). */
    async publish(): Promise<void> {
        if (!this.source) return;
        try {
            const stats = await this.source();
            const published: Published = {
                id: this.replicaId,
                published_at: new Date().toISOString(),
                uptime_seconds: stats.server.uptime_seconds,
                queue_depth: stats.server.queue_depth,
                active_sequences: stats.server.active_sequences,
                models: stats.models
            };
            await this.redis.set(`${this.prefix}replica:${this.replicaId}`, JSON.stringify(published), "PX", this.ttlMs);
        } catch (error) {
            this.options.onError?.(error);
        }
    }

    /** Every live replica's last figures, and each model's counters summed over them. */
    async read(): Promise<ClusterView> {
        const keys: string[] = [];
        let cursor = "0";
        do {
            const [next, found] = await this.redis.scan(cursor, "MATCH", `${this.prefix}replica:*`, "COUNT", 100);
            cursor = next;
            keys.push(...found);
        } while (cursor !== "0");
        const values = keys.length === 0 ? [] : await this.redis.mget(...keys);
        const replicas = values
            .filter((v): v is string => v !== null)
            .map((v) => JSON.parse(v) as Published)
            .sort((a, b) => a.id.localeCompare(b.id));
        const models: Record<string, ClusterModelStats> = {};
        for (const replica of replicas) {
            for (const [id, m] of Object.entries(replica.models)) {
                const sum = (models[id] ??= {
                    replicas: 0,
                    requests_per_second: 0,
                    active_sequences: 0,
                    queue_depth: 0,
                    requests_total: 0,
                    errors_total: 0,
                    completion_tokens_total: 0,
                    prompt_tokens_total: 0
                });
                sum.replicas++;
                sum.requests_per_second = Math.round((sum.requests_per_second + m.requests_per_second) * 1000) / 1000;
                sum.active_sequences += m.active_sequences;
                sum.queue_depth += m.queue_depth;
                sum.requests_total += m.requests_total;
                sum.errors_total += m.errors_total;
                sum.completion_tokens_total += m.completion_tokens_total;
                sum.prompt_tokens_total += m.prompt_tokens_total;
            }
        }
        return { replicas, models };
    }

    /** Stops publishing and takes this replica out of the view at once. */
    async close(): Promise<void> {
        if (this.timer) clearInterval(this.timer);
        this.timer = null;
        await this.redis.del(`${this.prefix}replica:${this.replicaId}`).catch(() => undefined);
        this.redis.disconnect();
    }
}
