import type { FastifyReply, FastifyRequest } from "fastify";
import type { Lifecycle } from "../Lifecycle.js";

/**
 * An AbortSignal for one request: it fires when the client goes away before the response is
 * complete (which frees the sequence) or when the shutdown grace period ends.
 */
export function requestSignal(_request: FastifyRequest, reply: FastifyReply, lifecycle: Lifecycle): AbortSignal {
    const controller = new AbortController();
    const onClose = (): void => {
        if (!reply.raw.writableFinished) controller.abort(new Error("client closed the connection"));
    };
    const onStop = (): void => controller.abort(lifecycle.stopSignal.reason);
    reply.raw.once("close", () => {
        onClose();
        lifecycle.stopSignal.removeEventListener("abort", onStop);
    });
    if (lifecycle.stopSignal.aborted) onStop();
    else lifecycle.stopSignal.addEventListener("abort", onStop, { once: true });
    return controller.signal;
}
