import type { FastifyReply, FastifyRequest } from "fastify";
import { QuandexError } from "@quandex/protocol";
import { toQuandexError } from "../http/errorReply.js";
import { eventFrame, pingFrame } from "./sseFrames.js";
import { SseReadable } from "./SseReadable.js";

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
 * Sends `frames` as `text/event-stream`, with keep-alive comments while nothing else is sent. A
 * generator that throws (an engine failure, or `abortError` at shutdown) ends the stream with an
 * `event: error` frame carrying the error body and no `[DONE]`; a client that went away gets
 * nothing more.
 */
export function sendEventStream(reply: FastifyReply, request: FastifyRequest, frames: AsyncGenerator<string>, signal: AbortSignal, keepAliveMs: number): FastifyReply {
    return reply
        .code(200)
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("cache-control", "no-cache, no-transform")
        .header("x-accel-buffering", "no")
        .send(new SseReadable(frames, keepAliveMs, pingFrame, (error) => errorFrame(request, error, signal)));
}

/** What ended a generation early: shutdown's `server_shutdown`, else an internal error. */
export function abortError(signal: AbortSignal): QuandexError {
    const reason: unknown = signal.reason;
    return reason instanceof QuandexError ? reason : new QuandexError("internal_error", { detail: "the generation ended without a result." });
}

/** The last frame of a stream whose generator failed: nothing for a client that went away, else `event: error` with the error body. */
function errorFrame(request: FastifyRequest, error: unknown, signal: AbortSignal): string | undefined {
    const reason: unknown = signal.reason;
    if (signal.aborted && !(reason instanceof QuandexError)) return undefined;
    return eventFrame("error", toQuandexError(reason instanceof QuandexError ? reason : error, request).toBody());
}
