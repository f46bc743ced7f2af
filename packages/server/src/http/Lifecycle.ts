import { QuandexError } from "@quandex/protocol";

/**
 * Server-wide state that routes consult: whether new requests are refused (draining), and a signal
 * that fires when the shutdown grace period ends, which aborts every generation still running.
 */
export class Lifecycle {
    readonly startedAt = Date.now();
    ready = false;
    draining = false;
    private readonly hardStop = new AbortController();

    get stopSignal(): AbortSignal {
        return this.hardStop.signal;
    }

    /** Ends the grace period: in-flight streams get an `event: error` with `server_shutdown`. */
    stopNow(): void {
        this.hardStop.abort(new QuandexError("server_shutdown"));
    }
}
