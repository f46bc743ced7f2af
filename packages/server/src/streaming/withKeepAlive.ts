/**
 * Yields the frames of `source`, and a keep-alive comment whenever `intervalMs` passes with no
 * frame, so proxies and clients don't drop a stream that waits in the queue or on a slow model.
 * The pending `next()` is kept across pings: a ping never loses or reorders a frame.
 */
export async function* withKeepAlive(source: AsyncIterator<string>, intervalMs: number, ping: string): AsyncGenerator<string> {
    let pending = source.next();
    while (true) {
        let timer: NodeJS.Timeout | undefined;
        const tick = new Promise<"tick">((resolve) => {
            timer = setTimeout(() => resolve("tick"), intervalMs);
        });
        const winner = await Promise.race([pending, tick]);
        clearTimeout(timer);
        if (winner === "tick") {
            yield ping;
            continue;
        }
        if (winner.done) return;
        yield winner.value;
        pending = source.next();
    }
}
