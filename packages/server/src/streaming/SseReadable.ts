import { Readable } from "node:stream";
import { setImmediate as nextTurn } from "node:timers/promises";

/**
 * The cap on what a stream may hold for a slow client. `unsent` counts the bytes already handed to
 * the response but not yet to the kernel; the stream adds its own buffer. `overflow` gives the last
 * frame once the sum passes `limitBytes`.
 */
export interface StreamBufferCap {
    readonly limitBytes: number;
    unsent(): number;
    overflow(bufferedBytes: number): string | undefined;
}

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
 *
 * With a `cap`, frames are read as fast as they come even when the client reads slower, buffered
 * up to `cap.limitBytes`: a slow reader must not hold the generation (and its sequence, shared with
 * other clients' batches) hostage. Past the cap the stream ends with `cap.overflow`'s frame and
 * returns `frames`, which stops the generation. Without a cap, reading stops under backpressure.
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
        /** `undefined`: no keep-alive frames (formats without comments, such as NDJSON). */
        private readonly ping: string | undefined,
        private readonly onError: (error: unknown) => string | undefined,
        private readonly cap?: StreamBufferCap
    ) {
        super({ highWaterMark: 16 * 1024 });
        if (ping !== undefined) this.arm(keepAliveMs);
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
                if (this.push(result.value)) continue;
                if (!this.cap) return;
                const buffered = this.readableLength + this.cap.unsent();
                if (buffered > this.cap.limitBytes) {
                    this.finish();
                    const last = this.cap.overflow(buffered);
                    if (last !== undefined) this.push(last);
                    this.push(null);
                    this.frames.return?.(undefined).catch(() => undefined);
                    return;
                }
                // One turn of the event loop, so the socket can take what it can before the next frame.
                await nextTurn();
                if (this.done) return;
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
        this.push(this.ping!);
        this.arm(this.keepAliveMs);
    }

    private finish(): void {
        this.done = true;
        clearTimeout(this.timer);
        this.timer = undefined;
    }
}
