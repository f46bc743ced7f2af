import type { FastifyInstance } from "fastify";

/**
 * What one stream may cost while its client is slow: the bytes of response that may wait to be
 * sent (`server.stream_buffer_limit`), and how long the connection may make no progress at all
 * (`server.idle_timeout`).
 */
export interface StreamLimits {
    readonly bufferLimitBytes: number;
    readonly idleTimeoutMs: number;
}

/** The documented defaults (README, configuration): 1 MiB, 60 s. */
export const defaultStreamLimits: StreamLimits = Object.freeze({ bufferLimitBytes: 1_048_576, idleTimeoutMs: 60_000 });

const key = Symbol.for("quandex.streamLimits");

/**
 * Sets the app's stream limits. Kept on the Fastify instance, so every route that streams (every
 * dialect, pulls) gets them through `sendEventStream` without each handler passing them along.
 */
export function setStreamLimits(app: FastifyInstance, limits: StreamLimits): void {
    (app as unknown as Record<symbol, StreamLimits>)[key] = Object.freeze({ ...limits });
}

/** The app's stream limits, or the defaults for an app that set none (route tests). */
export function streamLimitsOf(app: FastifyInstance): StreamLimits {
    return (app as unknown as Record<symbol, StreamLimits | undefined>)[key] ?? defaultStreamLimits;
}
