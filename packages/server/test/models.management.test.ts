import assert from "node:assert/strict";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { NodeLlamaEngine } from "@quandex/engine";
import { FakeEngine } from "@quandex/engine/testing";
import { goldenText, HuggingFaceFixture, requireTestModel } from "@quandex/test-support";
import { auth, createHarness, parseSse, type Harness } from "./support/harness.js";

const modelPath = requireTestModel();
const model = readFileSync(modelPath);
const json = { "content-type": "application/json" };

function expectError(res: { statusCode: number; body: string }, status: number, code: string): { error: { code: string; message: string; param: string | null } } {
    assert.equal(res.statusCode, status, res.body);
    const body = JSON.parse(res.body) as { error: { code: string; message: string; param: string | null } };
    assert.equal(body.error.code, code, res.body);
    return body;
}

describe("model management over HTTP: pull, delete, memory budget", () => {
    const hub = new HuggingFaceFixture();
    let h: Harness;
    const pull = (body: object, key = h.keys.admin) => h.app.inject({ method: "POST", url: "/v1/models/pull", headers: { ...auth(key), ...json }, payload: JSON.stringify(body) });

    before(async () => {
        hub.addRepo("tester", "stories-GGUF", [
            { path: "stories260K-Q8_0.gguf", content: model },
            { path: "stories260K-F16.gguf", content: model },
            { path: "broken-Q5_0.gguf", content: model, publishedSha256: "f".repeat(64) }
        ]);
        await hub.start();
        h = await createHarness({ engine: new FakeEngine(), hfEndpoint: hub.url });
    });
    after(async () => {
        await h.close();
        await hub.close();
    });

    it("POST /v1/models/pull answers 202 with the pull; GET /v1/models/pulls/{id} follows it to ready; the model is listed with its sha256", async () => {
        const res = await pull({ source: "hf:tester/stories-GGUF:Q8_0" });
        assert.equal(res.statusCode, 202, res.body);
        const started = res.json() as { id: string; object: string; status: string; model: string; source: string };
        assert.match(started.id, /^pull_[0-9a-f]{18}$/);
        assert.equal(started.object, "model.pull");
        assert.equal(started.model, "stories260K-Q8_0");
        assert.equal(started.source, "hf:tester/stories-GGUF:Q8_0");
        let state = started as { status: string; sha256?: string | null; downloaded_bytes?: number };
        for (let i = 0; i < 200 && state.status !== "ready" && state.status !== "error"; i++) {
            await new Promise((resolve) => setTimeout(resolve, 25));
            state = (await h.app.inject({ method: "GET", url: `/v1/models/pulls/${started.id}`, headers: auth(h.keys.admin) })).json() as typeof state;
        }
        assert.equal(state.status, "ready", JSON.stringify(state));
        assert.equal(state.downloaded_bytes, model.length);
        const entry = (await h.app.inject({ method: "GET", url: "/v1/models/stories260K-Q8_0", headers: auth(h.keys.read) })).json() as {
            sha256: string;
            pulled_from: string;
            status: string;
        };
        assert.equal(entry.sha256, state.sha256);
        assert.equal(entry.pulled_from, "hf:tester/stories-GGUF:Q8_0");
        assert.equal(entry.status, "unloaded");
        const list = (await h.app.inject({ method: "GET", url: "/v1/models/pulls", headers: auth(h.keys.admin) })).json() as { data: Array<{ id: string }> };
        assert.ok(list.data.some((p) => p.id === started.id));
    });

    it("with stream: true sends progress events ending in ready, then [DONE]", async () => {
        const res = await pull({ source: "hf:tester/stories-GGUF/stories260K-F16.gguf", id: "streamed", stream: true });
        assert.equal(res.statusCode, 200, res.body);
        assert.match(String(res.headers["content-type"]), /^text\/event-stream/);
        const events = parseSse(res.body).filter((e) => !e.comment);
        const states = events.slice(0, -1).map((e) => e.data as { status: string; total_bytes: number; downloaded_bytes: number; bytes_per_second: number });
        assert.ok(states.length >= 2, res.body);
        for (const s of states) assert.ok(["downloading", "verifying", "ready"].includes(s.status) && typeof s.bytes_per_second === "number", JSON.stringify(s));
        assert.equal(states.at(-1)!.status, "ready");
        assert.equal(states.at(-1)!.total_bytes, model.length);
        assert.equal(events.at(-1)!.data, "[DONE]");
        assert.ok(existsSync(path.join(h.modelsDir, "streamed.gguf")));
    });

    it("a failed pull ends its stream with an in-band error, and leaves nothing behind", async () => {
        const res = await pull({ source: "hf:tester/stories-GGUF/broken-Q5_0.gguf", stream: true });
        assert.equal(res.statusCode, 200);
        const last = parseSse(res.body)
            .filter((e) => !e.comment)
            .at(-1)!;
        assert.equal(last.event, "error");
        assert.equal((last.data as { error: { code: string } }).error.code, "download_failed");
        assert.ok(!existsSync(path.join(h.modelsDir, "broken-Q5_0.gguf")));
    });

    it("bad sources get the catalogue's errors at once; pulls need the admin scope", async () => {
        expectError(await pull({ source: "hf:tester/nope" }), 404, "model_not_found");
        const ambiguous = expectError(await pull({ source: "hf:tester/stories-GGUF" }), 400, "invalid_parameter");
        assert.equal(ambiguous.error.param, "source");
        assert.match(ambiguous.error.message, /broken-Q5_0\.gguf.*stories260K-F16\.gguf.*stories260K-Q8_0\.gguf/);
        expectError(await pull({ source: "ollama://llama3" }), 400, "invalid_parameter");
        expectError(await pull({ source: "hf:tester/stories-GGUF:Q8_0", id: "../evil" }), 400, "invalid_parameter");
        expectError(await pull({ source: 42 }), 400, "invalid_parameter");
        expectError(await pull({ source: "hf:tester/stories-GGUF:Q8_0" }, h.keys.generate), 403, "insufficient_scope");
        expectError(await h.app.inject({ method: "GET", url: "/v1/models/pulls/pull_nope", headers: auth(h.keys.admin) }), 404, "pull_not_found");
    });

    it("a pull onto an id held by another file is refused with 409 model_exists", async () => {
        copyFileSync(modelPath, path.join(h.modelsDir, "taken.gguf"));
        const res = await pull({ source: "hf:tester/stories-GGUF:Q8_0", id: "taken", stream: true });
        const last = parseSse(res.body)
            .filter((e) => !e.comment)
            .at(-1)!;
        assert.equal(last.event, "error");
        assert.equal((last.data as { error: { code: string } }).error.code, "model_exists");
    });

    it("DELETE /v1/models/{id} removes the file (an idle loaded model is unloaded first); busy models get 409", async () => {
        copyFileSync(modelPath, path.join(h.modelsDir, "doomed.gguf"));
        const gen = await h.app.inject({
            method: "POST",
            url: "/v1/generate",
            headers: { ...auth(h.keys.generate), ...json },
            payload: { model: "doomed", prompt: "x", max_tokens: 2 }
        });
        assert.equal(gen.statusCode, 200);
        const held = await h.scheduler.acquire(h.service.resolve("doomed"), new AbortController().signal);
        expectError(await h.app.inject({ method: "DELETE", url: "/v1/models/doomed", headers: auth(h.keys.admin) }), 409, "model_busy");
        held.release();
        expectError(await h.app.inject({ method: "DELETE", url: "/v1/models/doomed", headers: auth(h.keys.generate) }), 403, "insufficient_scope");
        const res = await h.app.inject({ method: "DELETE", url: "/v1/models/doomed", headers: auth(h.keys.admin) });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal((res.json() as { status: string }).status, "unloaded");
        assert.ok(!existsSync(path.join(h.modelsDir, "doomed.gguf")));
        expectError(await h.app.inject({ method: "GET", url: "/v1/models/doomed", headers: auth(h.keys.read) }), 404, "model_not_found");
        expectError(await h.app.inject({ method: "DELETE", url: "/v1/models/doomed", headers: auth(h.keys.admin) }), 404, "model_not_found");
    });

    it("keep_alive in a request is validated and applied", async () => {
        copyFileSync(modelPath, path.join(h.modelsDir, "brief.gguf"));
        const bad = await h.app.inject({
            method: "POST",
            url: "/v1/generate",
            headers: { ...auth(h.keys.generate), ...json },
            payload: { model: "brief", prompt: "x", keep_alive: "soon" }
        });
        expectError(bad, 400, "invalid_parameter");
        const once = await h.app.inject({
            method: "POST",
            url: "/v1/generate",
            headers: { ...auth(h.keys.generate), ...json },
            payload: { model: "brief", prompt: "x", max_tokens: 2, keep_alive: 0 }
        });
        assert.equal(once.statusCode, 200, once.body);
        await h.scheduler.settled(h.service.resolve("brief"));
        assert.equal(h.service.model("brief").status, "unloaded", "keep_alive 0 unloads after the request");
        const kept = await h.app.inject({
            method: "POST",
            url: "/v1/chat/completions",
            headers: { ...auth(h.keys.generate), ...json },
            payload: { model: "brief", messages: [{ role: "user", content: "x" }], max_tokens: 2, keep_alive: "10m" }
        });
        assert.equal(kept.statusCode, 200, kept.body);
        const entry = (await h.app.inject({ method: "GET", url: "/v1/models/brief", headers: auth(h.keys.read) })).json() as {
            status: string;
            expires_at: string;
            last_used_at: string;
        };
        assert.equal(entry.status, "ready");
        const expiresIn = Date.parse(entry.expires_at) - Date.parse(entry.last_used_at);
        assert.equal(expiresIn, 600_000);
    });
});

describe("several models under a memory budget, on the real engine", () => {
    let h: Harness;
    let engine: NodeLlamaEngine;

    before(async () => {
        engine = await NodeLlamaEngine.create({ gpu: false });
        const files = { "one.gguf": modelPath, "two.gguf": modelPath, "three.gguf": modelPath };
        const defaults = { contextSize: 128, parallel: 2, threads: 1, gpu: false } as const;
        // What one copy really holds once loaded (its estimate is a little less).
        const probe = await createHarness({ engine, files: { "probe.gguf": modelPath }, defaults });
        await probe.service.load("probe");
        await probe.scheduler.loadAndWait(probe.service.resolve("probe"));
        const each = probe.service.model("probe").resources!.totalBytes;
        await probe.close();
        // Room for two of the three.
        h = await createHarness({ engine, files, defaults, memoryBudgetBytes: Math.floor(2.5 * each) });
    });
    after(async () => {
        await h.close();
        await engine.dispose();
    });

    it("never holds more than two of three copies of the test model, loses no request, and answers each one right", async () => {
        const ids = ["one", "two", "three"];
        let mostLoaded = 0;
        let mostCommitted = 0;
        const budget = h.service.status().memory.budgetBytes!;
        const watch = setInterval(() => {
            mostLoaded = Math.max(mostLoaded, h.service.models().filter((m) => m.status === "ready").length);
            mostCommitted = Math.max(mostCommitted, h.service.status().memory.committedBytes);
        }, 2);
        const requests = Array.from({ length: 18 }, (_, i) => ids[i % 3]!).map((id) =>
            h.app.inject({
                method: "POST",
                url: "/v1/generate",
                headers: { ...auth(h.keys.generate), ...json },
                payload: { model: id, prompt: "Once upon a time", temperature: 0, max_tokens: 100 }
            })
        );
        const answers = await Promise.all(requests);
        clearInterval(watch);
        for (const res of answers) {
            assert.equal(res.statusCode, 200, res.body);
            assert.equal((res.json() as { choices: Array<{ text: string }> }).choices[0]!.text, goldenText);
        }
        assert.ok(mostLoaded <= 2, `${mostLoaded} models were loaded at once`);
        assert.ok(mostCommitted <= budget, `${mostCommitted} bytes committed against a budget of ${budget}`);
        const stats = (await h.app.inject({ method: "GET", url: "/v1/stats", headers: auth(h.keys.read) })).json() as {
            memory: { budget_bytes: number; committed_bytes: number; evictions_total: number };
        };
        assert.ok(stats.memory.evictions_total >= 1, JSON.stringify(stats.memory));
        assert.ok(stats.memory.committed_bytes <= stats.memory.budget_bytes);
    });
});
