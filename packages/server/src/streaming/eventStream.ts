import type { Socket } from "node:net";
import type { FastifyReply, FastifyRequest } from "fastify";
import { QuandexError } from "@quandex/protocol";
import { toQuandexError } from "../http/errorReply.js";
import { SseReadable } from "./SseReadable.js";
import { streamLimitsOf } from "./StreamLimits.js";
import { sseTransport, type StreamTransport } from "./StreamTransport.js";

/**
 * Waits for a stream's first event, but no longer than one keep-alive interval. The headers go out
 * only after this, so a refusal while queued (busy, timeout) that comes quickly is still an HTTP
 * status; a slow one becomes an in-band error after the first ping. Returns the pending first
 * result, for the frame generator to consume.
 * @throws the first event's error when it fails within the interval.
 */
export async function awaitFirstEvent<E>(events: AsyncIterator<E>, signal: AbortSignal, keepAliveMs: number): Promise<{ first: Promise<IteratorResult<E>> }> {
    const first = events.next();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), keepAliveMs);
    });
    const early = await Promise.race([first, timeout]).finally(() => clearTimeout(timer));
    if (early !== "timeout" && early.done) throw abortError(signal);
    // Wrapped: an async function would flatten a returned promise into its result.
    return { first };
}

/**
 * Sends `frames` in the transport's format (`text/event-stream` unless a dialect says otherwise),
 * with keep-alive frames while nothing else is sent. A generator that throws (an engine failure,
 * or `abortError` at shutdown) ends the stream with the transport's error frame and no closing
 * frame (`[DONE]`); a client that went away gets nothing more.
 *
 * A slow client costs at most the app's `bufferLimitBytes` (`server.stream_buffer_limit`): past it
 * the stream ends with `client_too_slow` and the generation stops. A connection on which nothing
 * moves for `idleTimeoutMs` (`server.idle_timeout`) while bytes wait to be sent (a client that
 * stopped reading) is closed, which frees what its socket holds too.
 */
export function sendEventStream(
    reply: FastifyReply,
    request: FastifyRequest,
    frames: AsyncGenerator<string>,
    signal: AbortSignal,
    keepAliveMs: number,
    transport: StreamTransport = sseTransport
): FastifyReply {
    const limits = streamLimitsOf(request.server);
    const raw = reply.raw;
    closeWhenStalled(request, reply, limits.idleTimeoutMs);
    const cap = {
        limitBytes: limits.bufferLimitBytes,
        unsent: () => raw.writableLength,
        overflow: (bufferedBytes: number) => {
            request.log.warn({ bufferedBytes, limitBytes: limits.bufferLimitBytes }, "stream ended: the client reads slower than the stream is generated");
            return transport.errorFrame(new QuandexError("client_too_slow", { buffered: bufferedBytes, limit: limits.bufferLimitBytes }));
        }
    };
    return reply
        .code(200)
        .header("content-type", transport.contentType)
        .header("cache-control", "no-cache, no-transform")
        .header("x-accel-buffering", "no")
        .send(new SseReadable(frames, keepAliveMs, transport.ping, (error) => errorFrame(request, error, signal, transport), cap));
}

/**
 * Closes the connection once bytes have waited `idleTimeoutMs` without any of them reaching the
 * kernel: the client stopped reading. A stream with nothing to send (a queue, a slow model, NDJSON
 * without pings) is not stalled, so a socket inactivity timer, which cannot tell the two apart,
 * would not do. Progress is a write handed on to the kernel: Node dispatches the next chunk only
 * once the last one is written. The check stops with the response; after it Node's keep-alive
 * timeout governs the socket.
 */
function closeWhenStalled(request: FastifyRequest, reply: FastifyReply, idleTimeoutMs: number): void {
    const socket = request.raw.socket as Socket | null;
    if (!socket || typeof socket.bytesWritten !== "number") return;
    // bytesWritten counts what is still buffered too; what has been dispatched is the difference.
    const dispatched = (): number => socket.bytesWritten - socket.writableLength;
    let last = dispatched();
    let lastProgress = performance.now();
    const timer = setInterval(
        () => {
            const now = performance.now();
            const current = dispatched();
            if (current !== last || socket.writableLength === 0) {
                last = current;
                lastProgress = now;
                return;
            }
            if (now - lastProgress < idleTimeoutMs) return;
            clearInterval(timer);
            request.log.warn({ idleTimeoutMs, unsentBytes: socket.writableLength }, "stream closed: the client read nothing for the idle timeout");
            socket.destroy();
        },
        Math.max(10, Math.min(1_000, idleTimeoutMs / 4))
    );
    timer.unref();
    // The response closes once its last byte is written, or with the connection.
    reply.raw.once("close", () => clearInterval(timer));
    socket.once("close", () => clearInterval(timer));
}

/** What ended a generation early: shutdown's `server_shutdown`, else an internal error. */
export function abortError(signal: AbortSignal): QuandexError {
    const reason: unknown = signal.reason;
    return reason instanceof QuandexError ? reason : new QuandexError("internal_error", { detail: "the generation ended without a result." });
}

/** The last frame of a stream whose generator failed: nothing for a client that went away, else the transport's error frame. */
function errorFrame(request: FastifyRequest, error: unknown, signal: AbortSignal, transport: StreamTransport): string | undefined {
    const reason: unknown = signal.reason;
    if (signal.aborted && !(reason instanceof QuandexError)) return undefined;
    return transport.errorFrame(toQuandexError(reason instanceof QuandexError ? reason : error, request));
}
