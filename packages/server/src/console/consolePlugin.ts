import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { QuandexError } from "@quandex/protocol";
import { errorResponses } from "../http/routes/errorResponses.js";

export interface ConsolePluginOptions {
    /** The console's built files (`packages/console/dist`); defaults to where `@quandex/console` is installed. */
    distDir?: string;
}

/**
 * The headers of every console answer. The CSP allows scripts, styles and fetches from this server
 * only, and no inline script or style element, so an injected string can never run; frames and
 * `<base>` are refused outright. `no-referrer` keeps the console's URLs out of other sites' logs.
 */
export const consoleSecurityHeaders = {
    "content-security-policy":
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin"
} as const;

/** What Vite writes; anything else in dist is served as bytes. */
const contentTypes: Record<string, string> = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".json": "application/json; charset=utf-8"
};

interface ConsoleFile {
    body: Buffer;
    type: string;
    etag: string;
}

/** `@quandex/console`'s dist folder, or null where the package is not installed beside the server. */
export function defaultConsoleDir(): string | null {
    try {
        return path.join(path.dirname(createRequire(import.meta.url).resolve("@quandex/console/package.json")), "dist");
    } catch {
        return null;
    }
}

/**
 * Reads the built console once, at boot: Vite's output is a handful of small files (an index and
 * content-hashed assets), so holding them in memory costs ~100 KB and no file system access per
 * request. Null when there is no build.
 */
function readConsole(distDir: string): Map<string, ConsoleFile> | null {
    if (!existsSync(path.join(distDir, "index.html"))) return null;
    const files = new Map<string, ConsoleFile>();
    const walk = (dir: string, prefix: string): void => {
        for (const name of readdirSync(dir)) {
            const full = path.join(dir, name);
            if (statSync(full).isDirectory()) walk(full, `${prefix}${name}/`);
            else {
                const body = readFileSync(full);
                files.set(`${prefix}${name}`, {
                    body,
                    type: contentTypes[path.extname(name)] ?? "application/octet-stream",
                    etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`
                });
            }
        }
    };
    walk(distDir, "");
    return files;
}

/**
 * The web console, served at `/` and at `/ui/` from the static files `@quandex/console` builds (Vite +
 * Preact). It is a plain client of the JSON API: it holds no key and no state on the server. Without a
 * build, `/` and `/ui/` answer 503 `console_not_built`, saying how to build it, and the API works as usual.
 */
export async function consolePlugin(app: FastifyInstance, options: ConsolePluginOptions): Promise<void> {
    const distDir = options.distDir ?? defaultConsoleDir();
    const files = distDir === null ? null : readConsole(distDir);
    if (files === null) app.log.warn({ distDir }, "web console not built: / and /ui/ answer 503 console_not_built; run `npm run build -w @quandex/console`");

    app.addHook("onSend", async (_request, reply, payload) => {
        reply.headers(consoleSecurityHeaders);
        return payload;
    });

    const send = (reply: FastifyReply, request: FastifyRequest, name: string): FastifyReply => {
        if (files === null) throw new QuandexError("console_not_built", { dir: distDir ?? "@quandex/console (not installed)" });
        const file = files.get(name);
        if (!file) throw new QuandexError("route_not_found", { method: request.method, path: request.url.split("?")[0] ?? request.url });
        // Hashed asset names change with their content, so they may be cached for good; the index must be revalidated.
        reply.header("cache-control", name === "index.html" ? "no-cache" : "public, max-age=31536000, immutable");
        reply.header("etag", file.etag);
        if (request.headers["if-none-match"] === file.etag) return reply.code(304).send();
        return reply.type(file.type).send(file.body);
    };
    const schema = { hide: true, response: { 200: { type: "string" }, ...errorResponses } };

    for (const prefix of ["/", "/ui/"]) {
        app.get(prefix, { schema }, async (request, reply) => send(reply, request, "index.html"));
        app.get<{ Params: { file: string } }>(`${prefix}assets/:file`, { schema }, async (request, reply) => send(reply, request, `assets/${request.params.file}`));
    }
    // `/ui` without its slash would resolve the relative asset URLs against `/`, so send it to `/ui/`.
    app.get("/ui", { schema }, async (_request, reply) => reply.redirect("/ui/", 308));
}
