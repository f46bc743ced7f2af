import assert from "node:assert/strict";
import { mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { FakeEngine } from "@quandex/engine/testing";
import { requireTestModel } from "@quandex/test-support";
import { SqliteKeyStore } from "../../src/keys/SqliteKeyStore.js";
import { openDatabase } from "../../src/storage/openDatabase.js";
import { startServer, type RunningServer } from "../../src/startServer.js";
import { parseSse } from "../support/harness.js";

// What SIGTERM runs (`quandex serve` calls `shutdown()` and exits 0 when it resolves; cli.test.ts
// checks the exit code on a real process): stop accepting at once, let running streams finish
// within `server.shutdown_grace`, end the rest with event: error server_shutdown when it is over.
const model = requireTestModel();
const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), "qdx-grace-"));

async function serve(graceSeconds: number): Promise<{ server: RunningServer; key: string }> {
    const modelsDir = tmp();
    symlinkSync(model, path.join(modelsDir, "fake.gguf"));
    const dataDir = tmp();
    const db = openDatabase(dataDir);
    const key = (await new SqliteKeyStore(db).create({ name: "t", scopes: ["generate", "read"], limits: { unlimited: true } })).secret;
    db.close();
    const config = path.join(tmp(), "quandex.yaml");
    writeFileSync(config, `server:\n  log_level: silent\n  shutdown_grace: ${graceSeconds}\n  memory_budget: 1GB\nmodel_defaults:\n  context_size: 20000\n`);
    // 5 ms a token: a 400-token stream runs ~2 s, long enough to be mid-way at the signal.
    const server = await startServer({ host: "127.0.0.1", port: "0", modelsDir, dataDir, config }, { engine: new FakeEngine({ tokenDelayMs: 5 }) });
    return { server, key };
}

async function openStream(server: RunningServer, key: string, maxTokens: number): Promise<{ rest: Promise<string> }> {
    const res = await fetch(`${server.url}/v1/generate`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "fake", prompt: "x", max_tokens: maxTokens, ignore_eos: true, stream: true })
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    // The stream is running once its first bytes are here.
    let text = new TextDecoder().decode((await reader.read()).value);
    const rest = (async () => {
        for (;;) {
            const { done, value } = await reader.read();
            if (done) return text;
            text += new TextDecoder().decode(value);
        }
    })();
    return { rest };
}

describe("shutdown grace (what SIGTERM runs)", () => {
    it("stops accepting at once, lets running streams finish to [DONE], then completes", async () => {
        const { server, key } = await serve(30);
        assert.equal(server.config.shutdownGraceMs, 30_000);
        const streams = await Promise.all([openStream(server, key, 400), openStream(server, key, 200)]);
        const started = Date.now();
        const shutdown = server.shutdown();
        // A new connection is refused while the running streams drain.
        await assert.rejects(fetch(`${server.url}/health`), (error: unknown) => /ECONNREFUSED/.test(String((error as Error).cause)));
        const bodies = await Promise.all(streams.map((s) => s.rest));
        for (const body of bodies) {
            assert.match(body, /data: \[DONE\]\n\n$/);
            assert.ok(!body.includes("event: error"));
        }
        const tokens = bodies.map((b) => parseSse(b).filter((e) => e.event === "message" && (e.data as { choices?: unknown[] }).choices).length);
        assert.ok(tokens[0]! >= 400 && tokens[1]! >= 200, `every token arrived (${tokens.join(", ")})`);
        await shutdown;
        const tookMs = Date.now() - started;
        assert.ok(tookMs < 30_000, `done in ${tookMs} ms, without waiting out the grace`);
    });

    it("past the grace, a running stream ends with event: error server_shutdown and shutdown completes", async () => {
        const { server, key } = await serve(0.5);
        // ~50 s of tokens: only the grace can end it.
        const stream = await openStream(server, key, 10_000);
        const started = Date.now();
        await server.shutdown();
        const tookMs = Date.now() - started;
        const body = await stream.rest;
        const last = parseSse(body).at(-1)!;
        assert.equal(last.event, "error", body.slice(-300));
        assert.equal((last.data as { error: { code: string } }).error.code, "server_shutdown");
        assert.ok(!body.includes("[DONE]"));
        assert.ok(tookMs >= 450 && tookMs < 10_000, `shutdown took ${tookMs} ms for a 0.5 s grace`);
    });
});
