import type { Logger } from "../Logger.js";
import { UpstreamEndpoint } from "./UpstreamEndpoint.js";
import type { UpstreamPoolConfig } from "./UpstreamPoolConfig.js";

/**
 * A named pool of OpenAI-compatible servers: picks an endpoint for each request (least outstanding
 * requests per unit of weight among the eligible ones), and checks each endpoint's health on an
 * interval (`GET /health` or whatever path is configured), so a dead server is taken out before a
 * request finds it and put back once it answers again.
 */
export class UpstreamPool {
    readonly name: string;
    readonly endpoints: readonly UpstreamEndpoint[];
    private timer: NodeJS.Timeout | null = null;
    private checking = false;
    private cursor = 0;
    private closed = false;

    constructor(
        readonly config: UpstreamPoolConfig,
        private readonly logger: Logger,
        now: () => number = Date.now
    ) {
        this.name = config.name;
        this.endpoints = config.endpoints.map((endpoint) => new UpstreamEndpoint(endpoint, config, now));
    }

    /** Starts the active health checks; the first runs at once. */
    start(): void {
        if (this.timer || this.closed) return;
        void this.checkAll();
        this.timer = setInterval(() => void this.checkAll(), this.config.healthCheck.intervalMs);
        this.timer.unref();
    }

    /** The eligible endpoint with the fewest outstanding requests per weight, skipping `exclude`; null when none is left. */
    pick(exclude: ReadonlySet<UpstreamEndpoint> = new Set()): UpstreamEndpoint | null {
        let best: UpstreamEndpoint | null = null;
        let bestLoad = Infinity;
        // Ties go round-robin (the scan starts one further each time), so idle endpoints share sequential traffic.
        const start = this.cursor++ % this.endpoints.length;
        for (let i = 0; i < this.endpoints.length; i++) {
            const endpoint = this.endpoints[(start + i) % this.endpoints.length]!;
            if (exclude.has(endpoint) || !endpoint.eligible) continue;
            const load = (endpoint.outstanding + 1) / endpoint.weight;
            if (load < bestLoad) {
                best = endpoint;
                bestLoad = load;
            }
        }
        return best;
    }

    health(): { healthy: number; total: number } {
        return { healthy: this.endpoints.filter((e) => e.healthy).length, total: this.endpoints.length };
    }

    /** One round of health checks; exported for tests that do not want to wait for the interval. */
    async checkAll(): Promise<void> {
        if (this.checking || this.closed) return;
        this.checking = true;
        try {
            await Promise.all(this.endpoints.map((endpoint) => this.check(endpoint)));
        } finally {
            this.checking = false;
        }
    }

    /** `GET /v1/models` on the first endpoint that answers: the model names the pool serves. */
    async discover(): Promise<string[]> {
        const failures: string[] = [];
        for (const endpoint of this.endpoints) {
            try {
                const res = await endpoint.request("/v1/models", { method: "GET", timeoutMs: this.config.healthCheck.timeoutMs });
                const text = await res.body.text();
                if (res.statusCode !== 200) throw new Error(`answered ${res.statusCode}`);
                const body = JSON.parse(text) as { data?: Array<{ id?: unknown }> };
                if (!Array.isArray(body.data)) throw new Error("its /v1/models has no `data` list");
                return body.data.map((m) => m.id).filter((id): id is string => typeof id === "string");
            } catch (error) {
                failures.push(`${endpoint.origin}: ${(error as Error).message}`);
            }
        }
        throw new Error(`upstream pool '${this.name}': no endpoint listed its models (${failures.join("; ")})`);
    }

    async close(): Promise<void> {
        this.closed = true;
        if (this.timer) clearInterval(this.timer);
        this.timer = null;
        await Promise.all(this.endpoints.map((e) => e.close()));
    }

    private async check(endpoint: UpstreamEndpoint): Promise<void> {
        const wasHealthy = endpoint.healthy;
        let up: boolean;
        try {
            const res = await endpoint.request(this.config.healthCheck.path, { method: "GET", timeoutMs: this.config.healthCheck.timeoutMs });
            await res.body.dump();
            up = res.statusCode === 200;
        } catch {
            up = false;
        }
        if (this.closed) return;
        endpoint.markChecked(up);
        if (wasHealthy !== endpoint.healthy) {
            this.logger.info(
                { pool: this.name, endpoint: endpoint.origin, healthy: endpoint.healthy },
                endpoint.healthy ? "upstream endpoint re-admitted" : "upstream endpoint ejected by its health check"
            );
        }
    }
}
