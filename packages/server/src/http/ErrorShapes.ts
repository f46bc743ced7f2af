import type { QuandexError } from "@quandex/protocol";
import type { ErrorRenderer } from "../inference/Dialect.js";

/**
 * Which error body a URL answers with. Every error comes from the one catalogue; a dialect whose
 * clients read another shape (Anthropic's `{"type":"error",…}`, Ollama's `{"error": "…"}`) registers
 * its routes' prefix here, so its 400s, 401s, 404s and 429s, and Fastify's own errors on its routes,
 * reach its clients in the shape their SDK parses. Everything else answers in the catalogue's
 * (OpenAI's) shape.
 */
export class ErrorShapes {
    private readonly shapes: Array<{ matches: (path: string) => boolean; render: ErrorRenderer }> = [];

    /** `paths`: exact paths, or prefixes ending in `/`. */
    add(paths: readonly string[], render: ErrorRenderer): void {
        const matches = (path: string): boolean => paths.some((p) => (p.endsWith("/") ? path.startsWith(p) : path === p));
        this.shapes.push({ matches, render });
    }

    /** The body of `error` for a request to `url` (query string ignored); `undefined` for the catalogue's own shape. */
    body(url: string, error: QuandexError): unknown {
        const path = url.split("?")[0] ?? url;
        return this.shapes.find((s) => s.matches(path))?.render(error);
    }
}
