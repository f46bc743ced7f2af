/**
 * Reads a `text/event-stream` body into the data of each event, in order. Comments (`: ping`)
 * and fields other than `data` are skipped; several `data` lines of one event are joined with
 * `\n`, as the SSE spec says. Bytes are decoded as a stream, so a character split between network
 * chunks stays whole.
 */
export async function* readServerSentEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
    const decoder = new TextDecoder();
    let buffer = "";
    let data: string[] = [];
    const lines = function* (final: boolean): Generator<string> {
        let newline: number;
        while ((newline = buffer.indexOf("\n")) !== -1) {
            yield buffer.slice(0, newline).replace(/\r$/, "");
            buffer = buffer.slice(newline + 1);
        }
        if (final && buffer !== "") {
            yield buffer;
            buffer = "";
        }
    };
    const events = function* (final: boolean): Generator<string> {
        for (const line of lines(final)) {
            if (line === "") {
                if (data.length > 0) yield data.join("\n");
                data = [];
            } else if (line.startsWith("data:")) {
                data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
            }
        }
    };
    for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        yield* events(false);
    }
    buffer += decoder.decode();
    yield* events(true);
    if (data.length > 0) yield data.join("\n");
}
