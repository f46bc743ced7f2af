import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { FakeEngine } from "@quandex/engine/testing";
import { consoleSecurityHeaders, defaultConsoleDir } from "../../src/console/consolePlugin.js";
import { auth, createHarness, type Harness } from "../support/harness.js";

/** The built console's index, which the root `npm run build` (and `npm ci`, through `prepare`) writes. */
function builtIndex(): string {
    const dir = defaultConsoleDir();
    assert.ok(dir, "@quandex/console is not installed in the workspace");
    return readFileSync(path.join(dir, "index.html"), "utf8");
}

function assertSecurityHeaders(headers: Record<string, unknown>): void {
    for (const [name, value] of Object.entries(consoleSecurityHeaders)) assert.equal(headers[name], value, name);
    // Spelled out here too, so a header dropped from the plugin's list fails.
    assert.equal(headers["x-content-type-options"], "nosniff");
    assert.equal(headers["referrer-policy"], "no-referrer");
    const csp = String(headers["content-security-policy"]);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) {
        assert.ok(csp.split(/;\s*/).includes(directive), `CSP lacks ${directive}: ${csp}`);
    }
}

describe("the web console's static files", () => {
    let h: Harness;
    before(async () => {
        h = await createHarness({ engine: new FakeEngine() });
    });
    after(() => h.close());

    it("serves the built index at / and /ui/ with a strict CSP, nosniff and no-referrer", async () => {
        const index = builtIndex();
        for (const url of ["/", "/ui/"]) {
            const res = await h.app.inject({ method: "GET", url });
            assert.equal(res.statusCode, 200, url);
            assert.match(String(res.headers["content-type"]), /^text\/html/);
            assert.equal(res.body, index);
            assertSecurityHeaders(res.headers);
            assert.equal(res.headers["set-cookie"], undefined, "the console never sets a cookie");
        }
    });

    it("has no inline script: every script tag loads a file", () => {
        const scripts = [...builtIndex().matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
        assert.ok(scripts.length > 0, "the index loads the app's script");
        for (const [, attributes, body] of scripts) {
            assert.match(attributes!, /\bsrc="\.\/assets\/[^"]+\.js"/);
            assert.equal(body!.trim(), "");
        }
        assert.doesNotMatch(builtIndex(), /<style\b|\sstyle="|\son[a-z]+="/i, "no inline style or event handler");
    });

    it("serves the hashed assets under both prefixes with their types, cached for good, and 304 on a matching ETag", async () => {
        const assets = [...builtIndex().matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
        assert.ok(assets.some((a) => a.endsWith(".js")) && assets.some((a) => a.endsWith(".css")), assets.join());
        for (const prefix of ["/", "/ui/"]) {
            for (const asset of assets) {
                const res = await h.app.inject({ method: "GET", url: `${prefix}${asset}` });
                assert.equal(res.statusCode, 200, `${prefix}${asset}`);
                assert.match(String(res.headers["content-type"]), asset.endsWith(".js") ? /^text\/javascript/ : /^text\/css/);
                assert.match(String(res.headers["cache-control"]), /immutable/);
                assertSecurityHeaders(res.headers);
                const again = await h.app.inject({ method: "GET", url: `${prefix}${asset}`, headers: { "if-none-match": String(res.headers.etag) } });
                assert.equal(again.statusCode, 304);
            }
        }
    });

    it("redirects /ui to /ui/, so the relative asset URLs resolve under /ui/", async () => {
        const res = await h.app.inject({ method: "GET", url: "/ui" });
        assert.equal(res.statusCode, 308);
        assert.equal(res.headers.location, "/ui/");
    });

    it("answers an unknown asset with the catalogue's 404, and leaves the API's own 404s alone", async () => {
        const res = await h.app.inject({ method: "GET", url: "/assets/nope.js" });
        assert.equal(res.statusCode, 404);
        assert.equal(res.json().error.code, "route_not_found");
        assertSecurityHeaders(res.headers);
        const api = await h.app.inject({ method: "GET", url: "/v1/nothing-here", headers: auth(h.keys.read) });
        assert.equal(api.statusCode, 404);
        assert.equal(api.json().error.code, "route_not_found");
        assert.equal(api.headers["content-security-policy"], undefined, "API answers are not console answers");
    });

    it("gives bad input the catalogue's answers: no path escapes dist, other methods get 405", async () => {
        for (const url of ["/assets/..%2F..%2Fpackage.json", "/ui/assets/%2e%2e%2findex.html", "/assets/index.html"]) {
            const res = await h.app.inject({ method: "GET", url });
            assert.equal(res.statusCode, 404, url);
            assert.equal(res.json().error.code, "route_not_found");
        }
        const post = await h.app.inject({ method: "POST", url: "/", payload: {} });
        assert.equal(post.statusCode, 405);
        assert.equal(post.json().error.code, "method_not_allowed");
        const head = await h.app.inject({ method: "HEAD", url: "/ui/" });
        assert.equal(head.statusCode, 200);
    });

    it("stays out of the API's OpenAPI document", async () => {
        const doc = (await h.app.inject({ method: "GET", url: "/v1/openapi.json", headers: auth(h.keys.read) })).json() as { paths: Record<string, unknown> };
        assert.ok(doc.paths["/v1/models"], "the document lists the API");
        for (const p of ["/", "/ui", "/ui/", "/assets/{file}", "/ui/assets/{file}"]) assert.equal(doc.paths[p], undefined, p);
    });

    it("needs no key for the static files: the key is asked for by the page and sent only by its fetches", async () => {
        const res = await h.app.inject({ method: "GET", url: "/", headers: { authorization: "Bearer qdx_wrong" } });
        assert.equal(res.statusCode, 200);
    });
});

describe("the web console when it is not built", () => {
    let h: Harness;
    before(async () => {
        h = await createHarness({ engine: new FakeEngine(), consoleDir: mkdtempSync(path.join(os.tmpdir(), "qdx-no-console-")) });
    });
    after(() => h.close());

    it("answers / and /ui/ with 503 console_not_built, saying how to build it, and the API still works", async () => {
        for (const url of ["/", "/ui/"]) {
            const res = await h.app.inject({ method: "GET", url });
            assert.equal(res.statusCode, 503);
            const body = res.json() as { error: { code: string; message: string } };
            assert.equal(body.error.code, "console_not_built");
            assert.match(body.error.message, /npm run build/);
            assertSecurityHeaders(res.headers);
        }
        const models = await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(h.keys.read) });
        assert.equal(models.statusCode, 200);
    });
});
