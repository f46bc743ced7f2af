import { Pool, type Dispatcher } from "undici";
import type { UpstreamEndpointConfig, UpstreamPoolConfig } from "./UpstreamPoolConfig.js";

/** What {@link UpstreamEndpoint.request} answers: status, headers and the body as a stream. */
export type UpstreamAnswer = Dispatcher.ResponseData;

/**
 * One server of a pool: its keep-alive connection pool (undici), the requests it has in flight,
 * and its health. It is eligible for new requests unless the active health check found it down
 * or it is ejected after consecutive failures; an ejection lasts a back-off that doubles with each
 * ejection in a row, and the first success after it resets the count.
 */
export class UpstreamEndpoint {
    readonly url: string;
    /** The URL without credentials, the only form that goes into errors and logs. */
    readonly origin: string;
    readonly weight: number;
    outstanding = 0;
    private readonly dispatcher: Pool;
    private readonly apiKey: string | null;
    private consecutiveFailures = 0;
    private ejections = 0;
    private ejectedUntil = 0;
    /** Set by the active health check. */
    private down = false;

    constructor(
        config: UpstreamEndpointConfig,
        private readonly pool: Pick<UpstreamPoolConfig, "ejectAfter" | "backoffMs" | "maxBackoffMs" | "idleTimeoutMs" | "connectTimeoutMs" | "connectionsPerEndpoint">,
        private readonly now: () => number = Date.now
    ) {
        const url = new URL(config.url);
        url.username = "";
        url.password = "";
        this.url = url.origin + url.pathname.replace(/\/+$/, "");
        this.origin = this.url;
        this.weight = config.weight;
        this.apiKey = config.apiKey;
        this.dispatcher = new Pool(url.origin, {
            connections: pool.connectionsPerEndpoint,
            keepAliveTimeout: 30_000,
            connect: { timeout: pool.connectTimeoutMs }
        });
    }

    /** Whether new requests may go here now. */
    get eligible(): boolean {
        return !this.down && this.now() >= this.ejectedUntil;
    }

    /** Counts toward `healthy` in the model list: up by the health check and not ejected. */
    get healthy(): boolean {
        return this.eligible;
    }

    /**
     * One request; the body arrives as a stream. `idleTimeoutMs` bounds the wait for the headers and
     * for each chunk after them; aborting `signal` destroys the request, so the upstream stops.
     */
    request(path: string, options: { method: "GET" | "POST"; body?: unknown; signal?: AbortSignal; timeoutMs?: number }): Promise<UpstreamAnswer> {
        const timeout = options.timeoutMs ?? this.pool.idleTimeoutMs;
        return this.dispatcher.request({
            path: `${new URL(this.url).pathname.replace(/\/+$/, "")}${path}`,
            method: options.method,
            headers: {
                ...(options.body !== undefined && { "content-type": "application/json" }),
                accept: "application/json, text/event-stream",
                ...(this.apiKey && { authorization: `Bearer ${this.apiKey}` })
            },
            ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
            ...(options.signal && { signal: options.signal }),
            headersTimeout: timeout,
            bodyTimeout: timeout
        });
    }

    succeeded(): void {
        this.consecutiveFailures = 0;
        this.ejections = 0;
    }

    /** A request or check that failed on this endpoint's account; enough in a row eject it. */
    failed(): void {
        this.consecutiveFailures++;
        if (this.consecutiveFailures < this.pool.ejectAfter) return;
        this.consecutiveFailures = 0;
        this.ejections++;
        const backoff = Math.min(this.pool.maxBackoffMs, this.pool.backoffMs * 2 ** (this.ejections - 1));
        this.ejectedUntil = this.now() + backoff;
    }

    /** The active health check's verdict: down takes it out at once, up puts it back (an ejection's back-off still applies). */
    markChecked(up: boolean): void {
        this.down = !up;
        if (up) this.consecutiveFailures = 0;
    }

    async close(): Promise<void> {
        await this.dispatcher.destroy().catch(() => undefined);
    }
}
