import net from "node:net";

export type RawRequest = {
    method: string;
    /** Origin, e.g. `http://127.0.0.1:8000`. */
    baseUrl: string;
    /** Path and query exactly as they go on the request line (no normalisation, no encoding). */
    path: string;
    headers: Record<string, string>;
    body: Buffer | null;
    timeoutMs: number;
};

export type RawResponse =
    | {
          kind: "response";
          status: number;
          headers: Record<string, string>;
          body: Buffer;
          ms: number;
      }
    /** The connection ended without a status line, or nothing complete came in time. */
    | { kind: "failed"; error: string; ms: number; timedOut: boolean };

/**
 * One HTTP/1.1 request on its own TCP connection, written and read byte for byte, so the harness
 * controls what fetch or node:http would refuse or rewrite (the raw request line, invalid UTF-8,
 * any content type) and still sees the answer when the server replies early and stops reading a
 * 10 MB body: the bytes that arrived are parsed even if writing the rest failed.
 */
export function rawRequest({ method, baseUrl, path, headers, body, timeoutMs }: RawRequest): Promise<RawResponse> {
    const started = performance.now();
    const url = new URL(baseUrl);
    return new Promise((resolve) => {
        const received: Buffer[] = [];
        let writeError: string | null = null;
        let settled = false;
        const socket = net.connect({ host: url.hostname, port: Number(url.port) });
        const settle = (result: RawResponse): void => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            socket.destroy();
            resolve(result);
        };
        const tryParse = (final: boolean): void => {
            const parsed = parseResponse(Buffer.concat(received), final);
            if (parsed !== null)
                settle({
                    kind: "response",
                    ...parsed,
                    ms: performance.now() - started
                });
            else if (final)
                settle({
                    kind: "failed",
                    error: writeError ?? (received.length === 0 ? "connection closed without an answer" : "incomplete answer"),
                    ms: performance.now() - started,
                    timedOut: false
                });
        };
        const timer = setTimeout(
            () =>
                settle({
                    kind: "failed",
                    error: `no complete answer in ${timeoutMs} ms`,
                    ms: performance.now() - started,
                    timedOut: true
                }),
            timeoutMs
        );
        socket.on("data", (chunk: Buffer) => {
            received.push(chunk);
            tryParse(false);
        });
        socket.on("error", (error) => {
            writeError ??= error.message;
        });
        socket.on("close", () => tryParse(true));
        const lines = [`${method} ${path} HTTP/1.1`, `host: ${url.host}`, "connection: close"];
        for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
        if (body !== null) lines.push(`content-length: ${body.length}`);
        socket.write(`${lines.join("\r\n")}\r\n\r\n`);
        if (body !== null) socket.write(body);
    });
}

/** A complete response in `bytes` (content-length, chunked, or up to the close), or null while incomplete. */
function parseResponse(bytes: Buffer, closed: boolean): { status: number; headers: Record<string, string>; body: Buffer } | null {
    const headerEnd = bytes.indexOf("\r\n\r\n");
    if (headerEnd < 0) return null;
    const [statusLine, ...headerLines] = bytes.subarray(0, headerEnd).toString("latin1").split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "")?.[1] ?? NaN);
    if (!Number.isFinite(status)) return closed ? { status: 0, headers: {}, body: bytes } : null;
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
        const colon = line.indexOf(":");
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let rest = bytes.subarray(headerEnd + 4);
    if (status === 204 || status === 304) return { status, headers, body: Buffer.alloc(0) };
    if (headers["content-length"] !== undefined) {
        const length = Number(headers["content-length"]);
        return rest.length >= length ? { status, headers, body: rest.subarray(0, length) } : closed ? { status, headers, body: rest } : null;
    }
    if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
        const chunks: Buffer[] = [];
        for (;;) {
            const lineEnd = rest.indexOf("\r\n");
            if (lineEnd < 0) return closed ? { status, headers, body: Buffer.concat(chunks) } : null;
            const size = parseInt(rest.subarray(0, lineEnd).toString("latin1"), 16);
            if (size === 0) return { status, headers, body: Buffer.concat(chunks) };
            if (rest.length < lineEnd + 2 + size + 2) return closed ? { status, headers, body: Buffer.concat(chunks) } : null;
            chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
            rest = rest.subarray(lineEnd + 2 + size + 2);
        }
    }
    return closed ? { status, headers, body: rest } : null;
}
