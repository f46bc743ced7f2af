import http from "node:http";

/** An answer from a llama-server child; read the body once, through one of the three accessors. */
export interface LoopbackAnswer {
    status: number;
    /** The raw body, chunk by chunk. */
    body: AsyncIterable<Buffer>;
    text(): Promise<string>;
    json<T>(): Promise<T>;
}

/**
 * One HTTP request to a llama-server child on the loopback interface, on its own connection.
 *
 * Why not `fetch`: its pool reuses idle keep-alive sockets, and llama-server's HTTP library closes
 * connections on its own schedule (after a 5 s idle timeout, and when a request was served by one
 * of its short-lived overflow threads). A reused socket that the server has just closed fails the
 * next request with `UND_ERR_SOCKET`. The test suite saw this under concurrent streams. A fresh connection per request
 * (`Connection: close`) costs ~0.1 ms on the loopback and cannot race.
 *
 * Aborting `signal` destroys the connection, which tells llama-server to stop the task and free its slot.
 */
export function loopbackRequest(baseUrl: string, path: string, options: { method?: "GET" | "POST"; body?: unknown; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<LoopbackAnswer> {
    const url = new URL(path, baseUrl);
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    return new Promise((resolve, reject) => {
        const req = http.request(
            {
                host: url.hostname,
                port: url.port,
                path: url.pathname,
                method: options.method ?? (payload ? "POST" : "GET"),
                agent: false,
                headers: payload ? { "content-type": "application/json", "content-length": payload.length } : {},
                signal: options.signal,
                timeout: options.timeoutMs
            },
            (res) => {
                const read = async (): Promise<string> => {
                    const chunks: Buffer[] = [];
                    for await (const chunk of res) chunks.push(chunk as Buffer);
                    return Buffer.concat(chunks).toString("utf8");
                };
                resolve({
                    status: res.statusCode ?? 0,
                    body: res,
                    text: read,
                    json: async <T>() => JSON.parse(await read()) as T
                });
            }
        );
        req.once("timeout", () => req.destroy(new Error(`no answer from ${url.origin}${url.pathname} within ${options.timeoutMs} ms`)));
        req.once("error", reject);
        req.end(payload);
    });
}
