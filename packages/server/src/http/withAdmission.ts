import type { PreparedEvent } from "@quandex/engine";
import { QuandexError } from "@quandex/protocol";
import type { Admission } from "./AdmissionHooks.js";

/**
 * Ties an admitted request's events to its quota: usage is recorded when it finishes, and the
 * daily count is given back when it is refused before reaching the engine (queue full, timeout,
 * shutdown), so a client that retries a 503 does not burn quota.
 */
export async function* withAdmission(events: AsyncGenerator<PreparedEvent>, admission: Admission): AsyncGenerator<PreparedEvent> {
    let started = false;
    try {
        for await (const event of events) {
            if (event.type === "started") started = true;
            else if (event.type === "done") await admission.complete({ promptTokens: event.promptTokens, completionTokens: event.completionTokens });
            yield event;
        }
    } catch (error) {
        if (!started && error instanceof QuandexError && error.status === 503) await admission.refund();
        throw error;
    }
}
