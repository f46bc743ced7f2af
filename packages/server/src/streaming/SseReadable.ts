import { Readable } from "node:stream";

/**
 * The body of an event stream: reads `frames` one at a time and pushes each as it comes, with a
 * keep-alive comment whenever `keepAliveMs` passes with no frame while a frame is awaited, so proxies
 * and clients don't drop a stream that waits in the queue or on a slow model.
 *
 * One `Readable` instead of `Readable.from` over a keep-alive generator: a frame costs one promise
 * hop, and the keep-alive is one timer per stream that re-arms itself only when it fires, instead of
 * a timer set and cleared (and a `Promise.race`) for every frame. The pending `next()` is kept across
 * pings: a ping never loses or reorders a frame.
 *
 * `onError` turns a failure of `frames` into a last frame (or `undefined` to end quietly).
 * Destroying the stream (the client went away) returns `frames`, as `Readable.from` does.
 */
export class SseReadable extends Readable {
    private pulling = false;
    private done = false;
    /** When the stream began waiting for the current frame, or sent the last ping. */
    private waitingSince = performance.now();
    private timer: NodeJS.Timeout | undefined;

    constructor(
        private readonly frames: AsyncIterator<string>,
        private readonly keepAliveMs: number,
        private readonly ping: string,
        private readonly onError: (error: unknown) => string | undefined
    ) {
        super({ highWaterMark: 16 * 1024 });
        this.arm(keepAliveMs);
    }

    override _read(): void {
        if (!this.pulling && !this.done) void this.pull();
    }

    override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
        this.finish();
        this.frames.return?.(undefined).catch(() => undefined);
        callback(error);
    }

    private async pull(): Promise<void> {
        this.pulling = true;
        try {
            while (!this.done) {
                let result: IteratorResult<string>;
                this.waitingSince = performance.now();
                try {
                    result = await this.frames.next();
                } catch (error) {
                    if (this.done) return;
                    const last = this.onError(error);
                    this.finish();
                    if (last !== undefined) this.push(last);
                    this.push(null);
                    return;
                }
                if (this.done) return;
                if (result.done) {
                    this.finish();
                    this.push(null);
                    return;
                }
                if (!this.push(result.value)) return;
            }
        } finally {
            this.pulling = false;
        }
    }

    private arm(delayMs: number): void {
        this.timer = setTimeout(() => this.tick(), delayMs);
    }

    private tick(): void {
        if (this.done) return;
        // Only while a frame is awaited: under backpressure there is unsent data anyway.
        if (!this.pulling) return this.arm(this.keepAliveMs);
        const waitedMs = performance.now() - this.waitingSince;
        if (waitedMs < this.keepAliveMs) return this.arm(Math.max(1, this.keepAliveMs - waitedMs));
        this.waitingSince = performance.now();
        this.push(this.ping);
        this.arm(this.keepAliveMs);
    }

    private finish(): void {
        this.done = true;
        clearTimeout(this.timer);
        this.timer = undefined;
    }
}
