import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { FakeEngine } from "@quandex/engine/testing";
import { isErrorCode } from "@quandex/protocol";
import { allowedSkip, requireTestModel } from "@quandex/test-support";
import { loadConfig } from "../../src/config/loadConfig.js";
import { ConfigError } from "../../src/config/ConfigError.js";
import { auth, createHarness, type Harness, type HarnessOptions } from "../support/harness.js";

const limits = {
    bodyBytes: 4096,
    headerBytes: 2048,
    connectionsPerIp: 64,
    schema: { maxDepth: 32, maxEnumValues: 1000, maxProperties: 1000, maxBytes: 65536 },
    grammarTimeoutMs: 5000
};

async function withHarness(options: Partial<HarnessOptions>, run: (h: Harness) => Promise<void>): Promise<void> {
    const h = await createHarness({ engine: new FakeEngine(), files: { "m.gguf": requireTestModel() }, ...options });
    try {
        await h.listen();
        await run(h);
    } finally {
        await h.close();
    }
}

/** Sends raw bytes and reads the whole answer (for what `fetch` would refuse to send). */
function raw(url: string, text: string): Promise<{ status: number; headers: string; body: string }> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
        const socket = connect(Number(port), hostname, () => socket.end(text));
        let data = "";
        socket
            .setEncoding("utf8")
            .on("data", (chunk: string) => (data += chunk))
            .on("error", reject);
        socket.on("close", () => {
            const [head = "", body = ""] = data.split("\r\n\r\n");
            resolve({ status: Number(head.split(" ")[1]), headers: head.toLowerCase(), body });
        });
    });
}

function assertCatalogue(body: string, code: string): void {
    const error = (JSON.parse(body) as { error: { code: string; message: string; type: string; param: unknown } }).error;
    assert.equal(error.code, code);
    assert.ok(isErrorCode(error.code));
    assert.equal(typeof error.message, "string");
    assert.ok("param" in error && "type" in error);
}

describe("Fastify-level errors in the catalogue's shape, with the server's x-request-id", () => {
    it("an id over 100 characters: 414 uri_too_long, before authentication", async () => {
        await withHarness({}, async (h) => {
            for (const url of [`/v1/models/${"x".repeat(150)}`, `/v1/models/${"x".repeat(150)}/load`]) {
                const res = await fetch(h.url + url);
                assert.equal(res.status, 414);
                assert.match(res.headers.get("x-request-id") ?? "", /^req_/);
                const body = await res.text();
                assertCatalogue(body, "uri_too_long");
                assert.ok(body.length < 600, "the long path is not echoed whole");
            }
        });
    });

    it("a URL that does not decode: 400 malformed_request", async () => {
        await withHarness({}, async (h) => {
            const res = await fetch(`${h.url}/v1/models/%E0%A4%A`);
            assert.equal(res.status, 400);
            assert.match(res.headers.get("x-request-id") ?? "", /^req_/);
            assertCatalogue(await res.text(), "malformed_request");
        });
    });

    it("headers over server.request_limits.header_bytes: 431 headers_too_large", async () => {
        await withHarness({ requestLimits: limits }, async (h) => {
            const res = await raw(h.url, `GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(4000)}\r\n\r\n`);
            assert.equal(res.status, 431);
            assert.match(res.headers, /x-request-id: req_/);
            assertCatalogue(res.body, "headers_too_large");
            assert.match(res.body, /2048 bytes/);
            const small = await fetch(`${h.url}/v1/models`, { headers: { ...auth(h.keys.read), "x-small": "a".repeat(1000) } });
            assert.equal(small.status, 200, "headers under the limit pass");
        });
    });

    it("a body over server.request_limits.body_bytes: 413 payload_too_large naming the limit", async () => {
        await withHarness({ requestLimits: limits }, async (h) => {
            const res = await fetch(`${h.url}/v1/generate`, {
                method: "POST",
                headers: { ...auth(h.keys.generate), "content-type": "application/json" },
                body: JSON.stringify({ model: "m", prompt: "x".repeat(5000) })
            });
            assert.equal(res.status, 413);
            const body = await res.text();
            assertCatalogue(body, "payload_too_large");
            assert.match(body, /4096 bytes/);
            const fits = await fetch(`${h.url}/v1/generate`, {
                method: "POST",
                headers: { ...auth(h.keys.generate), "content-type": "application/json" },
                body: JSON.stringify({ model: "m", prompt: "x".repeat(3000), max_tokens: 2 })
            });
            assert.notEqual(fits.status, 413, "a body under the limit is read (the fake model's context refuses the prompt)");
        });
    });
});

describe("config: server.request_limits and server.tls", () => {
    const write = (text: string): string => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "qdx-cfg-"));
        writeFileSync(path.join(dir, "q.yaml"), text);
        return path.join(dir, "q.yaml");
    };
    it("has documented defaults", () => {
        const config = loadConfig({ env: {}, home: "/tmp/none" });
        assert.deepEqual(config.requestLimits, {
            bodyBytes: 1_048_576,
            headerBytes: 16_384,
            connectionsPerIp: 64,
            schema: { maxDepth: 32, maxEnumValues: 1000, maxProperties: 1000, maxBytes: 65_536 },
            grammarTimeoutMs: 5000
        });
        assert.equal(config.tls, null);
        assert.deepEqual(config.corsOrigins, [], "CORS is off by default");
    });
    it("reads each key from the file, and refuses a bad value naming it", () => {
        const file = write("server:\n  request_limits:\n    body_bytes: 2048\n    schema_depth: 8\n    grammar_timeout: 0.5\n");
        const config = loadConfig({ env: { QUANDEX_CONFIG: file }, home: "/tmp/none" });
        assert.equal(config.requestLimits.bodyBytes, 2048);
        assert.equal(config.requestLimits.schema.maxDepth, 8);
        assert.equal(config.requestLimits.grammarTimeoutMs, 500);
        assert.throws(
            () => loadConfig({ env: { QUANDEX_CONFIG: write("server:\n  request_limits:\n    header_bytes: 10\n") }, home: "/tmp/none" }),
            (e) => e instanceof ConfigError && /request_limits\.header_bytes/.test(e.message)
        );
        assert.throws(
            () => loadConfig({ env: { QUANDEX_CONFIG: write("server:\n  request_limits:\n    nope: 1\n") }, home: "/tmp/none" }),
            (e) => e instanceof ConfigError && /unknown key/.test(e.message)
        );
    });
    it("server.tls: a missing file stops the boot naming the key", () => {
        assert.throws(
            () => loadConfig({ env: { QUANDEX_CONFIG: write("server:\n  tls:\n    cert: nope.pem\n    key: nope.key\n") }, home: "/tmp/none" }),
            (e) => e instanceof ConfigError && /server\.tls\.cert/.test(e.message)
        );
    });
});

describe("server.tls serves HTTPS with Node's own TLS", () => {
    it("answers over HTTPS with a self-signed certificate made here", async (t) => {
        let openssl = true;
        try {
            execFileSync("openssl", ["version"], { stdio: "ignore" });
        } catch {
            openssl = false;
        }
        if (!openssl) return t.skip(allowedSkip("openssl is not installed"));
        const dir = mkdtempSync(path.join(os.tmpdir(), "qdx-tls-"));
        const [certFile, keyFile] = [path.join(dir, "cert.pem"), path.join(dir, "key.pem")];
        execFileSync(
            "openssl",
            [
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                keyFile,
                "-out",
                certFile,
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=IP:127.0.0.1"
            ],
            { stdio: "ignore" }
        );
        const config = loadConfig({ env: { QUANDEX_CONFIG: writeConfig(dir, `server:\n  tls:\n    cert: cert.pem\n    key: key.pem\n`) }, home: "/tmp/none" });
        const cert = readFileSync(certFile, "utf8");
        await withHarness({ tls: config.tls }, async (h) => {
            assert.match(h.url, /^https:/);
            const answer = await new Promise<{ status: number; body: string; authorized: boolean }>((resolve, reject) => {
                const req = httpsRequest(`${h.url}/v1/models`, { ca: cert, headers: auth(h.keys.read) }, (res) => {
                    const authorized = (res.socket as import("node:tls").TLSSocket).authorized;
                    let body = "";
                    res.setEncoding("utf8").on("data", (c: string) => (body += c));
                    res.on("end", () => resolve({ status: res.statusCode ?? 0, body, authorized }));
                });
                req.on("error", reject).end();
            });
            assert.equal(answer.status, 200, answer.body);
            assert.equal(answer.authorized, true, "verified against the self-signed certificate");
            await assert.rejects(
                fetch(h.url.replace("https:", "http:") + "/health").then((r) => r.text()),
                "plain HTTP is not served on the TLS port"
            );
        });
    });
});

function writeConfig(dir: string, text: string): string {
    writeFileSync(path.join(dir, "q.yaml"), text);
    return path.join(dir, "q.yaml");
}

describe("server.cors_origins", () => {
    it("off by default: no CORS headers; listed origins get them", async () => {
        await withHarness({}, async (h) => {
            const res = await fetch(`${h.url}/health`, { headers: { origin: "https://console.example" } });
            assert.equal(res.headers.get("access-control-allow-origin"), null);
        });
        await withHarness({ corsOrigins: ["https://console.example"] }, async (h) => {
            const ok = await fetch(`${h.url}/health`, { headers: { origin: "https://console.example" } });
            assert.equal(ok.headers.get("access-control-allow-origin"), "https://console.example");
            const other = await fetch(`${h.url}/health`, { headers: { origin: "https://evil.example" } });
            assert.equal(other.headers.get("access-control-allow-origin"), null);
        });
    });
});
