import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FakeEngine } from "@quandex/engine/testing";
import { requireTestModel } from "@quandex/test-support";
import { setStreamLimits } from "../../src/streaming/StreamLimits.js";
import { auth, createHarness, parseSse, type Harness } from "../support/harness.js";

// Slow readers against the real app on a real socket: a client that stops reading costs the server
// at most the stream buffer limit, its generation stops (the sequence is freed for others), the
// stream ends with an in-band client_too_slow, and the idle timeout closes the connection.
const model = requireTestModel();
const bufferLimitBytes = 64 * 1024;
const idleTimeoutMs = 1_500;

/** A raw HTTP/1.1 request on its own socket, so the test decides when (and whether) bytes are read. */
function rawStream(url: string, key: string, body: object): net.Socket {
    const { hostname, port } = new URL(url);
    const payload = JSON.stringify(body);
    const socket = net.connect(Number(port), hostname);
    socket.write(
        [
            "POST /v1/generate HTTP/1.1",
            `Host: ${hostname}:${port}`,
            `Authorization: ${auth(key).authorization}`,
            "Content-Type: application/json",
            // The server closes the socket after the response, so reading to the end ends.
            "Connection: close",
            `Content-Length: ${Buffer.byteLength(payload)}`,
            "",
            payload
        ].join("\r\n")
    );
    return socket;
}

/** Reads the rest of a socket to its end, as text. */
function readToEnd(socket: net.Socket): Promise<string> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        socket.on("data", (chunk: Buffer) => chunks.push(chunk));
        socket.once("error", reject);
        socket.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        socket.resume();
    });
}

/** Decodes a chunked HTTP/1.1 response into its headers and body. */
function decodeChunked(raw: string): { head: string; body: string } {
    const split = raw.indexOf("\r\n\r\n");
    const head = raw.slice(0, split);
    let rest = raw.slice(split + 4);
    let body = "";
    while (rest.length > 0) {
        const lineEnd = rest.indexOf("\r\n");
        const size = parseInt(rest.slice(0, lineEnd), 16);
        if (!Number.isFinite(size) || size === 0) break;
        body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
        rest = rest.slice(lineEnd + 2 + size + 2);
    }
    return { head, body };
}

async function eventually(check: () => boolean | Promise<boolean>, withinMs: number, what: string): Promise<number> {
    const started = Date.now();
    while (!(await check())) {
        if (Date.now() - started > withinMs) assert.fail(`${what} did not happen within ${withinMs} ms`);
        await sleep(20);
    }
    return Date.now() - started;
}

const connections = (h: Harness): Promise<number> => new Promise((resolve, reject) => h.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));

describe("slow readers", () => {
    let h: Harness;
    let engine: FakeEngine;
    const active = (): number => h.service.models().reduce((sum, m) => sum + m.active, 0);
    // Far more than the cap: ~15 bytes of frame per token, and the fake engine never stops on its own.
    const endless = { model: "fake", prompt: "x", max_tokens: 1_000_000, ignore_eos: true, stream: true };

    before(async () => {
        engine = new FakeEngine();
        h = await createHarness({ engine, files: { "fake.gguf": model }, defaults: { contextSize: 2_000_000, parallel: 4 } });
        setStreamLimits(h.app, { bufferLimitBytes, idleTimeoutMs });
        await h.listen();
    });
    after(async () => {
        await h.close();
    });

    it("a client that stops reading: the stream ends with event: error client_too_slow and its sequence is freed", async () => {
        const socket = rawStream(h.url, h.keys.generate, endless);
        socket.pause();
        // The fake engine makes ~1M tokens in seconds; the cap must stop it long before.
        await eventually(() => engine.generations.length === 1 && active() === 0, 10_000, "the generation stopping");
        const raw = await readToEnd(socket);
        const { head, body } = decodeChunked(raw);
        assert.match(head, /^HTTP\/1\.1 200/);
        const events = parseSse(body).filter((e) => !e.comment);
        const last = events.at(-1)!;
        assert.equal(last.event, "error", body.slice(-300));
        const error = (last.data as { error: { code: string; message: string } }).error;
        assert.equal(error.code, "client_too_slow");
        assert.match(error.message, /65536-byte limit/);
        assert.ok(!body.includes("[DONE]"));
        // What was buffered is bounded by the cap plus the kernel's socket buffers, nowhere near the 1M tokens asked for.
        const tokens = events.filter((e) => e.event === "message").length;
        assert.ok(tokens > 100 && tokens < 900_000, `${tokens} token frames before the cut`);
        socket.destroy();
    });

    it("other streams run to [DONE] beside a stalled one", async () => {
        const stalled = rawStream(h.url, h.keys.generate, endless);
        stalled.pause();
        const res = await fetch(`${h.url}/v1/generate`, {
            method: "POST",
            headers: { ...auth(h.keys.generate), "content-type": "application/json" },
            body: JSON.stringify({ model: "fake", prompt: "x", max_tokens: 5_000, ignore_eos: true, stream: true })
        });
        const text = await res.text();
        assert.match(text, /data: \[DONE\]/);
        const finished = parseSse(text).filter((e) => e.event === "message" && typeof e.data === "object" && e.data !== null);
        assert.ok(finished.length >= 5_000, `${finished.length} frames`);
        stalled.destroy();
        await eventually(() => active() === 0, 5_000, "the stalled stream's sequence being freed");
    });

    it("a stream with nothing to send for longer than the idle timeout is not stalled, and runs to [DONE]", async () => {
        // A model slower than the idle timeout between tokens; NDJSON streams have no pings to fill such gaps.
        const slow = await createHarness({ engine: new FakeEngine({ tokenDelayMs: idleTimeoutMs + 1_000 }), files: { "fake.gguf": model } });
        try {
            setStreamLimits(slow.app, { bufferLimitBytes, idleTimeoutMs });
            await slow.listen();
            const res = await fetch(`${slow.url}/v1/generate`, {
                method: "POST",
                headers: { ...auth(slow.keys.generate), "content-type": "application/json" },
                body: JSON.stringify({ model: "fake", prompt: "x", max_tokens: 2, ignore_eos: true, stream: true })
            });
            assert.match(await res.text(), /data: \[DONE\]\n\n$/);
        } finally {
            await slow.close();
        }
    });

    it("the idle timeout closes a connection whose client reads nothing", async () => {
        // fetch's pool may keep an earlier connection open; only this test's own one is counted.
        const before = await connections(h);
        const socket = rawStream(h.url, h.keys.generate, endless);
        socket.pause();
        await eventually(async () => (await connections(h)) === before + 1, 5_000, "the connection being accepted");
        const started = Date.now();
        await eventually(async () => (await connections(h)) === before, idleTimeoutMs + 10_000, "the idle connection being closed");
        const waited = Date.now() - started;
        // Not before the timeout: the cap ends the stream early, but the connection stays until nothing has moved for the timeout.
        assert.ok(waited >= idleTimeoutMs - 200, `closed after ${waited} ms`);
        assert.equal(active(), 0);
        socket.destroy();
    });
});
