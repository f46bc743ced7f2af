import { APIConnectionError, APITimeoutError, APIUserAbortError, type QuandexError } from "./errors.js";

/**
 * The signal of one HTTP attempt: it fires when the caller's signal fires or when the attempt's
 * timeout runs out, and remembers which, so a failed `fetch` or body read becomes the right error.
 *
 * Call `release()` once the attempt is over (body read, stream finished or failed): it clears the
 * timer and removes the listener from the caller's signal, which may outlive many requests.
 */
export class RequestAttempt {
    readonly #controller = new AbortController();
    readonly #parent: AbortSignal | undefined;
    #timer: ReturnType<typeof setTimeout> | undefined;
    #timedOut = false;
    readonly #onParentAbort = (): void => this.#controller.abort(this.#parent?.reason);

    constructor(parent: AbortSignal | undefined, timeoutMs: number) {
        this.#parent = parent;
        parent?.addEventListener("abort", this.#onParentAbort, { once: true });
        this.#timer = setTimeout(
            () => {
                this.#timedOut = true;
                this.#controller.abort();
                // setTimeout fires at once for delays past 2^31-1 ms; clamp rather than time out instantly.
            },
            Math.min(timeoutMs, 2 ** 31 - 1)
        );
    }

    get signal(): AbortSignal {
        return this.#controller.signal;
    }

    /** Stops the timeout but keeps following the caller's signal: a stream may run past the timeout. */
    stopTimer(): void {
        clearTimeout(this.#timer);
        this.#timer = undefined;
    }

    /** Aborts the attempt (closes the connection) without blaming the caller or the timer. */
    abort(): void {
        this.#controller.abort();
    }

    release(): void {
        this.stopTimer();
        this.#parent?.removeEventListener("abort", this.#onParentAbort);
    }

    /** The SDK error for a failure of `fetch` or of a body read during this attempt. */
    errorFor(cause: unknown): QuandexError {
        if (this.#parent?.aborted) return new APIUserAbortError(undefined, { cause });
        if (this.#timedOut) return new APITimeoutError(undefined, { cause });
        return new APIConnectionError(connectionMessage(cause), { cause });
    }
}

function connectionMessage(cause: unknown): string {
    // undici reports "fetch failed" and hides the reason (ECONNREFUSED…) in `cause`: surface it.
    const inner = cause instanceof Error && cause.cause instanceof Error ? cause.cause.message : undefined;
    const outer = cause instanceof Error ? cause.message : undefined;
    const detail = inner ?? outer;
    return detail ? `Connection error: ${detail}` : "Connection error.";
}
