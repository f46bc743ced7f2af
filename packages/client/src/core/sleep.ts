import { APIUserAbortError } from "./errors.js";

/** Waits `ms` milliseconds; rejects with APIUserAbortError as soon as `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
        if (signal?.aborted) {
            reject(new APIUserAbortError());
            return;
        }
        const onAbort = (): void => {
            clearTimeout(timer);
            reject(new APIUserAbortError());
        };
        const timer = setTimeout(() => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
        }, ms);
        signal?.addEventListener("abort", onAbort, { once: true });
    });
}
