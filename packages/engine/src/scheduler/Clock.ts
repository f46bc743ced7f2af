/** Time as the scheduler sees it; tests pass a manual clock so timeouts fire in microseconds. */
export interface Clock {
    now(): number;
    setTimeout(callback: () => void, ms: number): unknown;
    clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
    now: () => performance.now(),
    setTimeout: (callback, ms) => {
        const handle = setTimeout(callback, ms);
        handle.unref?.();
        return handle;
    },
    clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout)
};
