/**
 * Decides when a consumer that waits on an {@link EventPump} is woken. `schedule` takes the wake-up;
 * it must run it eventually.
 */
export interface WakeScheduler {
    schedule(wake: () => void): void;
}

/**
 * Wakes waiting consumers right after node-llama-cpp has handed its next batch to the decode thread:
 * `afterDispatch` is called from the context's batch prioritization hook, which runs synchronously
 * just before the decode is started, and it flushes the wake-ups in a microtask, so they run once the
 * decode is on its way. When no dispatch comes (the last token, a full pump), a fallback flushes them
 * one full event-loop turn later (a `setImmediate` scheduled from a `setImmediate`: past the check
 * phase in which the context dispatches); a flush by a dispatch cancels it, so the usual case costs
 * no extra turn of the loop.
 */
export class DispatchWaker implements WakeScheduler {
    private pending: Array<() => void> = [];
    private flushQueued = false;
    /** The fallback's current immediate (the outer one, then the inner one), cleared when a dispatch flushes first. */
    private fallback: NodeJS.Immediate | undefined;
    private readonly flush = (): void => {
        this.flushQueued = false;
        if (this.fallback !== undefined) {
            clearImmediate(this.fallback);
            this.fallback = undefined;
        }
        const wakes = this.pending;
        this.pending = [];
        for (const wake of wakes) wake();
    };
    private readonly fallbackOuter = (): void => {
        this.fallback = setImmediate(this.flush);
    };

    schedule(wake: () => void): void {
        this.pending.push(wake);
        if (this.fallback === undefined) this.fallback = setImmediate(this.fallbackOuter);
    }

    /** Call when a batch is about to be decoded. */
    afterDispatch(): void {
        if (this.pending.length === 0 || this.flushQueued) return;
        this.flushQueued = true;
        queueMicrotask(this.flush);
    }
}

/**
 * A queue between a producer that runs ahead (the token loop of a generation) and a consumer that
 * reads at its own pace (the HTTP stream), so the next token's decode is not held up by the work of
 * sending the last one.
 *
 * node-llama-cpp's `sequence.evaluate` is pull-based: it queues the next token's decode only when its
 * consumer asks for the next token, and the context dispatches queued decodes in a `setImmediate`.
 * Were the HTTP side woken at once for each token, everything it does (text, SSE frame, socket
 * write) would run before that dispatch, in series with the decode. Here the producer asks for the
 * next token first, and a waiting consumer is woken through the {@link WakeScheduler}, after the
 * dispatch: its work then overlaps the decode, which runs on another thread. A consumer that is not
 * waiting takes what is queued at once.
 */
export class EventPump<T> {
    private readonly items: T[] = [];
    private ended = false;
    private failure: { error: unknown } | undefined;
    private waiter: (() => void) | undefined;
    private wakeQueued = false;
    private roomWaiter: (() => void) | undefined;
    private closedFlag = false;

    /**
     * @param waker when a waiting consumer is woken after a push.
     * @param highWater how many unread items the producer may get ahead by before `waitForRoom` waits.
     */
    constructor(
        private readonly waker: WakeScheduler,
        private readonly highWater = 256
    ) {}

    /** True once the consumer has stopped reading; the producer should stop. */
    get closed(): boolean {
        return this.closedFlag;
    }

    /**
     * Queues an item for the consumer. `now`: wake a waiting consumer at once rather than through the
     * scheduler, for items after which the producer starts no more work (the end of a generation).
     */
    push(item: T, now = false): void {
        this.items.push(item);
        this.wake(now);
    }

    end(): void {
        this.ended = true;
        this.wake(true);
    }

    fail(error: unknown): void {
        this.failure = { error };
        this.wake(true);
    }

    /** For the producer: resolves at once while the consumer is less than `highWater` items behind. */
    waitForRoom(): Promise<void> | undefined {
        if (this.items.length < this.highWater || this.closedFlag) return undefined;
        return new Promise((resolve) => (this.roomWaiter = resolve));
    }

    /** For the consumer: the next item, or `undefined` at the end; rejects with the producer's error. */
    async next(): Promise<T | undefined> {
        while (true) {
            if (this.items.length > 0) {
                const item = this.items.shift()!;
                this.releaseRoom();
                return item;
            }
            if (this.failure) throw this.failure.error;
            if (this.ended) return undefined;
            await new Promise<void>((resolve) => (this.waiter = resolve));
        }
    }

    /** For the consumer: stop reading. The producer sees `closed` and any wait for room ends. */
    close(): void {
        this.closedFlag = true;
        this.releaseRoom();
    }

    private releaseRoom(): void {
        const resolve = this.roomWaiter;
        if (resolve && (this.items.length < this.highWater || this.closedFlag)) {
            this.roomWaiter = undefined;
            resolve();
        }
    }

    private wake(now: boolean): void {
        if (this.waiter === undefined) return;
        if (now) return this.runWake();
        if (this.wakeQueued) return;
        this.wakeQueued = true;
        this.waker.schedule(this.runWake);
    }

    private readonly runWake = (): void => {
        this.wakeQueued = false;
        const resolve = this.waiter;
        this.waiter = undefined;
        resolve?.();
    };
}
