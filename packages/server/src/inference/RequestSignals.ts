import type { FastifyReply } from "fastify";
import type { Lifecycle } from "../http/Lifecycle.js";

/** Why a request's work stopped when its client went away: nobody is left to answer, so it is logged as information, not as a failure. */
export class ClientClosedError extends Error {
    constructor() {
        super("client closed the connection");
        this.name = "ClientClosedError";
    }
}

/**
 * The abort signals of one request. `request` fires when the client goes away before the response
 * is complete (which frees the sequence) or when the shutdown grace period ends; `engine`, what the
 * engine gets, also fires when a sibling choice ended the request early.
 */
export class RequestSignals {
    readonly request: AbortSignal;
    readonly engine: AbortSignal;
    private readonly choices = new AbortController();

    constructor(reply: FastifyReply, lifecycle: Lifecycle) {
        const controller = new AbortController();
        const onStop = (): void => controller.abort(lifecycle.stopSignal.reason);
        reply.raw.once("close", () => {
            if (!reply.raw.writableFinished) controller.abort(new ClientClosedError());
            lifecycle.stopSignal.removeEventListener("abort", onStop);
        });
        if (lifecycle.stopSignal.aborted) onStop();
        else lifecycle.stopSignal.addEventListener("abort", onStop, { once: true });
        this.request = controller.signal;
        this.engine = AbortSignal.any([this.request, this.choices.signal]);
    }

    /** Ends every choice of the request (one of them failed, or the reader stopped). */
    readonly abortChoices = (reason: unknown): void => this.choices.abort(reason);
}
