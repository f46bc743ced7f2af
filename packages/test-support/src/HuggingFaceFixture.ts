import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A file the fixture serves: its bytes, and optionally a checksum it publishes instead of the real one. */
export interface FixtureFile {
    path: string;
    content: Buffer;
    /** What the listing and `X-Linked-Etag` claim; defaults to the content's real SHA-256. */
    publishedSha256?: string;
    /** Serve an HTML page instead of the bytes (a captive portal, an error page). */
    html?: boolean;
}

/** A fault to inject into the ranged downloads of one file (what a downloader fetches; not its first probe). */
export interface Fault {
    /** Close the connection of the ranged request that reaches this byte of the file, there (once). */
    cutAtByte?: number;
    /** Wait this long between 64 KiB pieces of the body. */
    delayMsPerPiece?: number;
    /** Delay only ranges that start at or after this byte, so earlier ranges finish first. */
    slowFromByte?: number;
}

/**
 * A stand-in for the network only: a local HTTP server with Hugging Face's URL layout, so pulls
 * run offline against real HTTP. It serves
 * - `GET /api/models/{owner}/{repo}/tree/{revision}?recursive=true`, the listing (sizes, LFS sha256);
 * - `GET|HEAD /{owner}/{repo}/resolve/{revision}/{path}`, the file, with `ETag`, `X-Linked-Etag`,
 *   `X-Linked-Size`, `Content-Length` and `Range` support, as the hub's resolve URLs do;
 * - `GET|HEAD /files/{name}`, the same files under a plain URL.
 * It counts the body bytes it sent per file, so a test can tell a resume from a restart.
 */
export class HuggingFaceFixture {
    private readonly repos = new Map<string, FixtureFile[]>();
    private readonly faults = new Map<string, Fault>();
    private readonly sent = new Map<string, number>();
    private readonly ranged = new Map<string, number>();
    private readonly rangedSent = new Map<string, number>();
    readonly requests: Array<{ method: string; url: string; range: string | null; authorization: string | null }> = [];
    private server: http.Server | undefined;
    url = "";

    addRepo(owner: string, repo: string, files: FixtureFile[]): void {
        this.repos.set(`${owner}/${repo}`, files);
    }

    /** Injects a fault into the downloads of `path` (a repo file path, or a plain file name) until `clearFaults`. */
    fault(path: string, fault: Fault): void {
        this.faults.set(path, fault);
    }

    clearFaults(): void {
        this.faults.clear();
    }

    /** Body bytes written for `path` so far (an abandoned probe's bytes in socket buffers included). */
    bytesSent(path: string): number {
        return this.sent.get(path) ?? 0;
    }

    /** Bytes of `path` asked for with Range requests (open-ended ranges count to the end, even when the client stops early). */
    bytesRequested(path: string): number {
        return this.ranged.get(path) ?? 0;
    }

    /**
     * Body bytes written in answer to Range requests for `path`. Under a `delayMsPerPiece` fault the
     * writes follow the client's reading within a piece, so this is what the download really took.
     */
    rangedBytesSent(path: string): number {
        return this.rangedSent.get(path) ?? 0;
    }

    resetCounts(): void {
        this.sent.clear();
        this.ranged.clear();
        this.rangedSent.clear();
        this.requests.length = 0;
    }

    async start(): Promise<string> {
        this.server = http.createServer((request, response) => this.handle(request, response));
        await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
        this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
        return this.url;
    }

    async close(): Promise<void> {
        this.server?.closeAllConnections();
        await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    }

    private handle(request: IncomingMessage, response: ServerResponse): void {
        const url = new URL(request.url ?? "/", "http://fixture");
        this.requests.push({
            method: request.method ?? "GET",
            url: url.pathname + url.search,
            range: request.headers.range ?? null,
            authorization: request.headers.authorization ?? null
        });
        const parts = url.pathname
            .split("/")
            .filter((p) => p !== "")
            .map(decodeURIComponent);
        if (parts[0] === "api" && parts[1] === "models" && parts[4] === "tree") return this.listing(`${parts[2]}/${parts[3]}`, response);
        if (parts[2] === "resolve") {
            const files = this.repos.get(`${parts[0]}/${parts[1]}`);
            const file = files?.find((f) => f.path === parts.slice(4).join("/"));
            return file ? this.serve(file, file.path, request, response) : this.notFound(response);
        }
        if (parts[0] === "files") {
            for (const files of this.repos.values()) {
                const file = files.find((f) => f.path.split("/").pop() === parts[1]);
                if (file) return this.serve(file, parts[1]!, request, response);
            }
        }
        this.notFound(response);
    }

    private listing(repo: string, response: ServerResponse): void {
        const files = this.repos.get(repo);
        if (!files) {
            // The hub answers 401 for repos it does not show to an anonymous client.
            response.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: "Repository not found" }));
            return;
        }
        const body = files.map((file) => ({
            type: "file",
            oid: createHash("sha1").update(file.content).digest("hex"),
            size: file.content.length,
            path: file.path,
            lfs: { oid: sha256Of(file), size: file.content.length, pointerSize: 134 }
        }));
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    }

    private serve(file: FixtureFile, key: string, request: IncomingMessage, response: ServerResponse): void {
        const content = file.html ? Buffer.from("<!DOCTYPE html><html><body>Please sign in</body></html>") : file.content;
        const sha = sha256Of(file);
        const headers: Record<string, string | number> = {
            "accept-ranges": "bytes",
            etag: `"${sha}"`,
            "x-linked-etag": `"${sha}"`,
            "x-linked-size": file.content.length,
            "content-type": file.html ? "text/html" : "application/octet-stream"
        };
        let start = 0;
        let end = content.length - 1;
        const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? "");
        let status = 200;
        if (range) {
            start = Number(range[1]);
            end = range[2] ? Math.min(Number(range[2]), content.length - 1) : content.length - 1;
            if (start >= content.length) {
                response.writeHead(416, { "content-range": `bytes */${content.length}` }).end();
                return;
            }
            status = 206;
            headers["content-range"] = `bytes ${start}-${end}/${content.length}`;
            if (request.method === "GET") this.ranged.set(key, (this.ranged.get(key) ?? 0) + end - start + 1);
        }
        headers["content-length"] = end - start + 1;
        response.writeHead(status, headers);
        if (request.method === "HEAD") {
            response.end();
            return;
        }
        // Faults hit the download's ranged requests, not the probe that learns the size.
        const fault = range ? this.faults.get(key) : undefined;
        let cut: number | undefined;
        if (fault?.cutAtByte !== undefined && fault.cutAtByte >= start && fault.cutAtByte <= end) {
            cut = fault.cutAtByte - start;
            this.faults.set(key, { ...fault, cutAtByte: undefined });
        }
        const delay = fault?.delayMsPerPiece !== undefined && start >= (fault.slowFromByte ?? 0) ? fault.delayMsPerPiece : undefined;
        const body = content.subarray(start, end + 1);
        let offset = 0;
        const pump = (): void => {
            while (offset < body.length) {
                const piece = body.subarray(offset, Math.min(body.length, offset + 65_536));
                const room = cut === undefined ? piece.length : Math.min(piece.length, cut - offset);
                if (room <= 0) {
                    response.destroy();
                    return;
                }
                const slice = piece.subarray(0, room);
                offset += slice.length;
                this.sent.set(key, (this.sent.get(key) ?? 0) + slice.length);
                if (range) this.rangedSent.set(key, (this.rangedSent.get(key) ?? 0) + slice.length);
                const more = response.write(slice);
                if (delay !== undefined) {
                    setTimeout(pump, delay);
                    return;
                }
                if (!more) {
                    response.once("drain", pump);
                    return;
                }
            }
            response.end();
        };
        pump();
    }

    private notFound(response: ServerResponse): void {
        response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "Entry not found" }));
    }
}

function sha256Of(file: FixtureFile): string {
    return file.publishedSha256 ?? createHash("sha256").update(file.content).digest("hex");
}

/** The file's bytes, for `FixtureFile.content`. */
export function bytesOf(filePath: string): Buffer {
    return readFileSync(filePath);
}
