import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { FakeEngine } from "@quandex/engine/testing";
import { requireTestModel } from "@quandex/test-support";
import { auth, createHarness, parseSse, type Harness } from "./support/harness.js";

const model = requireTestModel();
const json = { "content-type": "application/json" };

async function withHarness(options: Parameters<typeof createHarness>[0], run: (h: Harness) => Promise<void>): Promise<void> {
    const h = await createHarness(options);
    try {
        await run(h);
    } finally {
        await h.close();
    }
}

function expectError(
    res: { statusCode: number; json(): unknown; headers: Record<string, unknown> },
    status: number,
    code: string,
    param: string | null = null,
    type?: string
): void {
    assert.equal(res.statusCode, status, JSON.stringify(res.json()));
    const body = res.json() as { error: { code: string; message: string; type: string; param: string | null } };
    assert.equal(body.error.code, code);
    assert.equal(body.error.param, param);
    assert.ok(body.error.message.length > 10, "a human message");
    if (type) assert.equal(body.error.type, type);
    assert.ok(res.headers["x-request-id"], "every response carries x-request-id");
}

describe("routes with the fake engine", () => {
    let h: Harness;
    const gen = (body: unknown, key: string | null = h.keys.generate, headers: Record<string, string> = json) =>
        h.app.inject({ method: "POST", url: "/v1/generate", headers: { ...(key ? auth(key) : {}), ...headers }, payload: typeof body === "string" ? body : JSON.stringify(body) });

    before(async () => {
        h = await createHarness({
            engine: new FakeEngine({ failPaths: /broken/, crashPaths: /crashy/ }),
            files: { "fake.gguf": model, "broken.gguf": model, "crashy.gguf": model },
            defaults: { contextSize: 64 }
        });
    });
    after(async () => {
        await h.close();
    });

    it("GET /health needs no key", async () => {
        const res = await h.app.inject({ method: "GET", url: "/health" });
        assert.equal(res.statusCode, 200);
        assert.deepEqual({ ...(res.json() as object), uptime_seconds: 0 }, { status: "ok", live: true, ready: true, uptime_seconds: 0 });
    });

    it("401 invalid_api_key with WWW-Authenticate for a missing, malformed or unknown key", async () => {
        for (const headers of [{}, { authorization: "Basic abc" }, { authorization: "Bearer qdx_wrong" }]) {
            const res = await h.app.inject({ method: "GET", url: "/v1/models", headers });
            expectError(res, 401, "invalid_api_key", null, "authentication_error");
            assert.match(String(res.headers["www-authenticate"]), /^Bearer/);
        }
    });

    it("403 insufficient_scope when the key lacks the route's scope", async () => {
        expectError(await gen({ model: "fake", prompt: "x" }, h.keys.read), 403, "insufficient_scope", null, "permission_error");
        const unload = await h.app.inject({ method: "POST", url: "/v1/models/fake/unload", headers: auth(h.keys.generate) });
        expectError(unload, 403, "insufficient_scope");
    });

    it("a revoked key stops working on the next request", async () => {
        const { record, secret } = await h.store.create({ name: "temp", scopes: ["read"] });
        assert.equal((await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(secret) })).statusCode, 200);
        await h.store.revoke(record.id);
        expectError(await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(secret) }), 401, "invalid_api_key");
    });

    it("400 invalid_json for malformed or empty JSON", async () => {
        expectError(await gen('{"model": "fake",'), 400, "invalid_json", null, "invalid_request_error");
        expectError(await gen(""), 400, "invalid_json");
    });

    it("400 invalid_parameter naming the field for wrong types, ranges, unknown and missing fields", async () => {
        expectError(await gen({ model: "fake", prompt: "x", temperature: "hot" }), 400, "invalid_parameter", "temperature");
        expectError(await gen({ model: "fake", prompt: "x", temperature: 3 }), 400, "invalid_parameter", "temperature");
        expectError(await gen({ model: "fake", prompt: "x", max_tokens: 0 }), 400, "invalid_parameter", "max_tokens");
        expectError(await gen({ model: "fake", prompt: "x", max_tokens: 1.5 }), 400, "invalid_parameter", "max_tokens");
        expectError(await gen({ model: "fake", prompt: "x", max_tokens: "10" }), 400, "invalid_parameter", "max_tokens");
        expectError(await gen({ model: "fake", prompt: "x", top_p: -1 }), 400, "invalid_parameter", "top_p");
        expectError(await gen({ model: "fake", prompt: "x", seed: -1 }), 400, "invalid_parameter", "seed");
        expectError(await gen({ model: "fake", prompt: "x", stream: "yes" }), 400, "invalid_parameter", "stream");
        expectError(await gen({ model: "fake", prompt: "x", metal_optimize: 1 }), 400, "invalid_parameter", "metal_optimize");
        expectError(await gen({ model: "fake", prompt: "x", stop: [""] }), 400, "invalid_parameter", "stop");
        expectError(await gen({ model: "fake", prompt: "x", stop: Array(17).fill("a") }), 400, "invalid_parameter", "stop");
        expectError(await gen({ model: "fake", prompt: "x", mystery: true }), 400, "invalid_parameter", "mystery");
        expectError(await gen({ model: "fake" }), 400, "invalid_parameter", "prompt");
        expectError(await gen({ prompt: "x" }), 400, "invalid_parameter", "model");
        expectError(await gen([1, 2]), 400, "invalid_parameter", "body");
    });

    it("400 context_length_exceeded when prompt plus max_tokens does not fit", async () => {
        expectError(await gen({ model: "fake", prompt: "x", max_tokens: 64 }), 400, "context_length_exceeded", "max_tokens");
        expectError(await gen({ model: "fake", prompt: "y".repeat(100) }), 400, "context_length_exceeded", "prompt");
        const ok = await gen({ model: "fake", prompt: "x", max_tokens: 62, ignore_eos: true });
        assert.equal(ok.statusCode, 200, "prompt (BOS + 1) plus 62 fits exactly in 64");
    });

    it("404 model_not_found and route_not_found", async () => {
        expectError(await gen({ model: "nope", prompt: "x" }), 404, "model_not_found", "model", "not_found_error");
        expectError(await h.app.inject({ method: "GET", url: "/v1/nothing", headers: auth(h.keys.read) }), 404, "route_not_found");
        expectError(await h.app.inject({ method: "GET", url: "/v1/models/nope", headers: auth(h.keys.read) }), 404, "model_not_found", "id");
    });

    it("405 method_not_allowed with Allow for a known path and the wrong method", async () => {
        const res = await h.app.inject({ method: "DELETE", url: "/v1/generate", headers: auth(h.keys.generate) });
        expectError(res, 405, "method_not_allowed");
        assert.equal(res.headers.allow, "POST");
    });

    it("413 payload_too_large over 1 MB", async () => {
        expectError(await gen({ model: "fake", prompt: "x".repeat(1_100_000) }), 413, "payload_too_large");
    });

    it("415 unsupported_media_type for non-JSON bodies", async () => {
        expectError(await gen("model=fake", h.keys.generate, { "content-type": "application/x-www-form-urlencoded" }), 415, "unsupported_media_type");
        expectError(await gen('{"model":"fake"}', h.keys.generate, { "content-type": "text/plain" }), 415, "unsupported_media_type");
    });

    it("500 internal_error when the engine fails, with no internals in the message", async () => {
        const res = await gen({ model: "crashy", prompt: "x", max_tokens: 10 });
        expectError(res, 500, "internal_error", null, "server_error");
        assert.doesNotMatch(res.body, /fake engine failure/);
    });

    it("after the headers, an engine failure is an in-band error event and no [DONE]", async () => {
        const res = await gen({ model: "crashy", prompt: "x", max_tokens: 10, stream: true });
        assert.equal(res.statusCode, 200);
        const events = parseSse(res.body);
        const last = events.at(-1)!;
        assert.equal(last.event, "error");
        assert.equal((last.data as { error: { code: string } }).error.code, "internal_error");
        assert.ok(!events.some((e) => e.data === "[DONE]"));
    });

    it("503 model_unavailable for a broken model, listed in `error` with its message, while others keep serving", async () => {
        const res = await gen({ model: "broken", prompt: "x" });
        expectError(res, 503, "model_unavailable", null, "service_unavailable");
        const models = (await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(h.keys.read) })).json() as {
            models: Array<{ id: string; status: string; error: string | null }>;
        };
        const broken = models.models.find((m) => m.id === "broken")!;
        assert.equal(broken.status, "error");
        assert.match(broken.error ?? "", /cannot load/);
        assert.equal((await gen({ model: "fake", prompt: "x", max_tokens: 3 })).statusCode, 200);
    });

    it("metal_optimize on a CPU engine runs on CPU, succeeds and says so", async () => {
        const res = await gen({ model: "fake", prompt: "x", max_tokens: 3, metal_optimize: true });
        assert.equal(res.statusCode, 200);
        const stats = (res.json() as { metal_stats: { backend: string; mps_allocated: string; mps_allocated_bytes: number } }).metal_stats;
        assert.equal(stats.backend, "cpu");
        assert.equal(stats.mps_allocated, "0B");
        assert.equal(stats.mps_allocated_bytes, 0);
    });

    it("lists models with every field, in every state, and the OpenAI list beside them", async () => {
        const res = await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(h.keys.read) });
        const body = res.json() as { models: Array<Record<string, unknown>>; object: string; data: Array<{ id: string; object: string }> };
        assert.equal(body.object, "list");
        const crashy = body.models.find((m) => m.id === "crashy")!;
        assert.deepEqual(Object.keys(crashy).sort(), [
            "aliases",
            "backend",
            "busy_sequences",
            "context_size",
            "created",
            "error",
            "estimated_bytes",
            "expires_at",
            "gpu_layers",
            "id",
            "last_used_at",
            "memory_bytes",
            "memory_usage",
            "metal_optimized",
            "object",
            "owned_by",
            "parallel",
            "pulled_from",
            "sha256",
            "size_bytes",
            "status"
        ]);
        assert.ok(body.data.every((d) => d.object === "model"));
    });

    it("never sends CORS headers unless cors_origins allows the origin", async () => {
        const res = await h.app.inject({ method: "GET", url: "/v1/models", headers: { ...auth(h.keys.read), origin: "https://evil.example" } });
        assert.equal(res.headers["access-control-allow-origin"], undefined);
    });

    it("every route has a response schema, and the OpenAPI document lists them", async () => {
        const missing = h.app.registeredRoutes.filter((r) => !r.hasSchema).map((r) => `${String(r.method)} ${r.url}`);
        assert.deepEqual(missing, []);
        const doc = (await h.app.inject({ method: "GET", url: "/v1/openapi.json", headers: auth(h.keys.read) })).json() as { openapi: string; paths: Record<string, unknown> };
        assert.match(doc.openapi, /^3\./);
        for (const p of ["/v1/generate", "/v1/models", "/v1/models/{id}", "/v1/models/{id}/load", "/v1/models/{id}/unload", "/v1/stats", "/health"]) assert.ok(doc.paths[p], p);
    });

    it("503 server_shutdown for new requests while draining", async () => {
        h.lifecycle.draining = true;
        try {
            expectError(await gen({ model: "fake", prompt: "x" }), 503, "server_shutdown");
            const health = await h.app.inject({ method: "GET", url: "/health" });
            assert.equal(health.statusCode, 503);
            assert.equal((health.json() as { status: string }).status, "shutting_down");
        } finally {
            h.lifecycle.draining = false;
        }
    });
});

describe("routes: loading, GPU reporting, CORS, keep-alive and device stats", () => {
    it("202 from load; a request during the load waits for it, and past request_timeout gets 503 model_loading with Retry-After", async () => {
        await withHarness({ engine: new FakeEngine({ loadDelayMs: 400 }), files: { "slow.gguf": model }, queueTimeoutMs: 150 }, async (h) => {
            const load = await h.app.inject({ method: "POST", url: "/v1/models/slow/load", headers: auth(h.keys.generate) });
            assert.equal(load.statusCode, 202);
            assert.equal((load.json() as { status: string }).status, "loading");
            const res = await h.app.inject({ method: "POST", url: "/v1/generate", headers: { ...auth(h.keys.generate), ...json }, payload: { model: "slow", prompt: "x" } });
            expectError(res, 503, "model_loading");
            assert.ok(Number(res.headers["retry-after"]) >= 1);
            const listed = (await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(h.keys.read) })).json() as { models: Array<{ status: string }> };
            assert.equal(listed.models[0]!.status, "loading");
        });
        await withHarness({ engine: new FakeEngine({ loadDelayMs: 200 }), files: { "slow.gguf": model } }, async (h) => {
            await h.app.inject({ method: "POST", url: "/v1/models/slow/load", headers: auth(h.keys.generate) });
            const res = await h.app.inject({
                method: "POST",
                url: "/v1/generate",
                headers: { ...auth(h.keys.generate), ...json },
                payload: { model: "slow", prompt: "x", max_tokens: 2 }
            });
            assert.equal(res.statusCode, 200, res.body);
        });
    });

    it("the request that finds a model unloaded loads it and succeeds", async () => {
        await withHarness({ engine: new FakeEngine({ loadDelayMs: 50 }), files: { "lazy.gguf": model } }, async (h) => {
            const res = await h.app.inject({
                method: "POST",
                url: "/v1/generate",
                headers: { ...auth(h.keys.generate), ...json },
                payload: { model: "lazy", prompt: "x", max_tokens: 2 }
            });
            assert.equal(res.statusCode, 200);
        });
    });

    it("reports the GPU backend and accelerator memory when the engine really offloads", async () => {
        await withHarness({ engine: new FakeEngine({ backend: "cuda" }), files: { "g.gguf": model } }, async (h) => {
            const res = await h.app.inject({
                method: "POST",
                url: "/v1/generate",
                headers: { ...auth(h.keys.generate), ...json },
                payload: { model: "g", prompt: "x", max_tokens: 2, metal_optimize: true }
            });
            const stats = (res.json() as { metal_stats: { backend: string; mps_allocated: string; mps_allocated_bytes: number; gpu_layers: number } }).metal_stats;
            assert.equal(stats.backend, "cuda");
            assert.equal(stats.mps_allocated_bytes, 2_000_000);
            assert.equal(stats.mps_allocated, "1.9MB");
            assert.equal(stats.gpu_layers, 5);
            const listed = (await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(h.keys.read) })).json() as {
                models: Array<{ metal_optimized: boolean; backend: string }>;
            };
            assert.equal(listed.models[0]!.metal_optimized, true);
            assert.equal(listed.models[0]!.backend, "cuda");
        });
    });

    it("CORS allows a configured origin", async () => {
        await withHarness({ engine: new FakeEngine(), corsOrigins: ["https://app.example"] }, async (h) => {
            const res = await h.app.inject({ method: "GET", url: "/v1/models", headers: { ...auth(h.keys.read), origin: "https://app.example" } });
            assert.equal(res.headers["access-control-allow-origin"], "https://app.example");
        });
    });

    it("sends keep-alive comments during long waits", async () => {
        await withHarness({ engine: new FakeEngine({ tokenDelayMs: 60 }), files: { "slow.gguf": model }, keepAliveMs: 20 }, async (h) => {
            const res = await h.app.inject({
                method: "POST",
                url: "/v1/generate",
                headers: { ...auth(h.keys.generate), ...json },
                payload: { model: "slow", prompt: "x", max_tokens: 3, stream: true }
            });
            const events = parseSse(res.body);
            assert.ok(
                events.some((e) => e.comment && e.data === "ping"),
                res.body
            );
            assert.equal(events.at(-1)?.data, "[DONE]");
        });
    });

    it("stats: temperature from a readable hwmon sensor, null without one; device and per-model figures", async () => {
        const sysRoot = mkdtempSync(path.join(os.tmpdir(), "qdx-sys-"));
        mkdirSync(path.join(sysRoot, "class/hwmon/hwmon0"), { recursive: true });
        writeFileSync(path.join(sysRoot, "class/hwmon/hwmon0/temp1_input"), "51000\n");
        await withHarness({ engine: new FakeEngine(), files: { "m.gguf": model }, sysRoot }, async (h) => {
            await h.app.inject({
                method: "POST",
                url: "/v1/generate",
                headers: { ...auth(h.keys.generate), ...json },
                payload: { model: "m", prompt: "x", max_tokens: 4, ignore_eos: true }
            });
            const stats = (await h.app.inject({ method: "GET", url: "/v1/stats", headers: auth(h.keys.read) })).json() as {
                metal_device: { name: string; temperature: string | null; temperature_celsius: number | null };
                models: Record<string, { requests_total: number; completion_tokens_total: number; average_latency: string; error_rate: string; active_sequences: number }>;
            };
            assert.equal(stats.metal_device.temperature, "51C");
            assert.equal(stats.metal_device.temperature_celsius, 51);
            assert.equal(stats.metal_device.name, "Fake CPU");
            assert.equal(stats.models.m!.requests_total, 1);
            assert.equal(stats.models.m!.completion_tokens_total, 4);
            assert.match(stats.models.m!.average_latency, /^\d+(\.\d+)?m?s$/);
            assert.equal(stats.models.m!.error_rate, "0%");
        });
        await withHarness({ engine: new FakeEngine() }, async (h) => {
            const stats = (await h.app.inject({ method: "GET", url: "/v1/stats", headers: auth(h.keys.read) })).json() as { metal_device: { temperature: null } };
            assert.equal(stats.metal_device.temperature, null);
        });
    });
});
