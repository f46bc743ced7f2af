import http from "node:http";

/** An answer from a llama-server child; read the body once, through one of the three accessors. */
export interface LoopbackAnswer {
    status: number;
    /** The raw body, chunk by chunk. */
    body: AsyncIterable<Buffer>;
    text(): Promise<string>;
    json<T>(): Promise<T>;
}

export interface LoopbackOptions {
    method?: "GET" | "POST";
    body?: unknown;
    signal?: AbortSignal;
    timeoutMs?: number;
    /**
     * A keep-alive pool for short request/response calls (`/tokenize`). Reuse saves ~0.2 ms per call
     * on this loopback, but llama-server's HTTP library closes idle connections on its own schedule
     * (a 5 s idle timeout, overflow threads), so a reused socket it has just closed can fail before
     * any answer; such a call is sent once more on a fresh connection. Only for idempotent calls.
     * Without it, the request gets its own connection.
     */
    pool?: http.Agent;
}

/**
 * One HTTP request to a llama-server child on the loopback interface, on its own connection unless
 * `pool` is given.
 *
 * Why not `fetch`: its pool reuses idle keep-alive sockets with no way to retry the race above;
 * the test suite saw `UND_ERR_SOCKET` under concurrent streams. Streams (`/completion`) get a
 * fresh connection (~0.1 ms more on the loopback): aborting `signal` destroys it, which tells
 * llama-server to stop the task and free its slot.
 */
export async function loopbackRequest(baseUrl: string, path: string, options: LoopbackOptions = {}): Promise<LoopbackAnswer> {
    if (!options.pool) return send(baseUrl, path, options, false);
    try {
        return await send(baseUrl, path, options, options.pool);
    } catch (error) {
        if (!(error instanceof StaleSocketError) || options.signal?.aborted) throw error;
        return send(baseUrl, path, options, false);
    }
}

/** A pooled connection that the server had closed failed the call before any answer came. */
class StaleSocketError extends Error {}

function send(baseUrl: string, path: string, options: LoopbackOptions, agent: http.Agent | false): Promise<LoopbackAnswer> {
    const url = new URL(path, baseUrl);
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    return new Promise((resolve, reject) => {
        const req = http.request(
            {
                host: url.hostname,
                port: url.port,
                path: url.pathname + url.search,
                method: options.method ?? (payload ? "POST" : "GET"),
                agent,
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
        req.once("error", (error: NodeJS.ErrnoException) => {
            const stale = req.reusedSocket && (error.code === "ECONNRESET" || error.code === "EPIPE" || error.message === "socket hang up");
            reject(stale ? new StaleSocketError(error.message, { cause: error }) : error);
        });
        req.end(payload);
    });
}
