import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { APITimeoutError, DEFAULT_BASE_URL, NotFoundError, QuandexClient, QuandexError, type ModelEntry, type QuandexClientOptions } from "../src/index.js";
import { errorResponse, jsonResponse, metalStats, recordingSleep, scriptedFetch, usage } from "./helpers/fakeFetch.js";

const generateResponse = {
    id: "gen_1",
    model: "stories",
    choices: [{ text: "Once upon a time", finish_reason: "stop" }],
    usage,
    metal_stats: metalStats
};

function entry(status: ModelEntry["status"], extra: Partial<ModelEntry> = {}): ModelEntry {
    return {
        id: "stories260K",
        object: "model",
        created: 1_764_000_000,
        owned_by: "quandex",
        status,
        metal_optimized: false,
        memory_usage: status === "ready" ? "2MB" : "0B",
        memory_bytes: status === "ready" ? 2_000_000 : 0,
        aliases: ["stories", "tiny"],
        context_size: 512,
        parallel: 4,
        backend: status === "ready" ? "cpu" : null,
        gpu_layers: 0,
        size_bytes: 1_185_376,
        error: null,
        busy_sequences: 0,
        estimated_bytes: null,
        last_used_at: null,
        expires_at: null,
        sha256: null,
        pulled_from: null,
        ...extra
    };
}

const modelStats = {
    requests_per_second: 0.5,
    average_latency: "100ms",
    average_latency_ms: 100,
    error_rate: "0%",
    error_rate_ratio: 0,
    p50_latency_ms: 90,
    p95_latency_ms: 150,
    output_tokens_per_second: 12,
    active_sequences: 1,
    queue_depth: 0,
    requests_total: 30,
    errors_total: 0,
    completion_tokens_total: 720
};

function make(fetchImpl: typeof fetch, options: QuandexClientOptions = {}): QuandexClient {
    return new QuandexClient({ apiKey: "qdx_test", baseURL: "http://quandex.test/v1", fetch: fetchImpl, ...options });
}

describe("QuandexClient configuration", () => {
    const saved = { key: process.env.QUANDEX_API_KEY, url: process.env.QUANDEX_BASE_URL };
    beforeEach(() => {
        delete process.env.QUANDEX_API_KEY;
        delete process.env.QUANDEX_BASE_URL;
    });
    afterEach(() => {
        for (const [name, value] of [
            ["QUANDEX_API_KEY", saved.key],
            ["QUANDEX_BASE_URL", saved.url]
        ] as const) {
            if (value === undefined) delete process.env[name];
            else process.env[name] = value;
        }
    });

    it("reads QUANDEX_API_KEY and QUANDEX_BASE_URL; options win over them", async () => {
        process.env.QUANDEX_API_KEY = "qdx_from_env";
        process.env.QUANDEX_BASE_URL = "http://env.test:9000/v1/";
        const script = scriptedFetch(jsonResponse(200, { models: [], object: "list", data: [] }));
        const fromEnv = new QuandexClient({ fetch: script.fetch });
        assert.equal(fromEnv.baseURL, "http://env.test:9000/v1", "trailing slash dropped");
        await fromEnv.listModels();
        assert.equal(script.requests[0]!.url, "http://env.test:9000/v1/models");
        assert.equal(script.requests[0]!.headers.get("authorization"), "Bearer qdx_from_env");

        const explicit = new QuandexClient({ apiKey: "qdx_explicit", baseURL: "http://x.test/v1", fetch: script.fetch });
        await explicit.listModels();
        assert.equal(script.requests[1]!.url, "http://x.test/v1/models");
        assert.equal(script.requests[1]!.headers.get("authorization"), "Bearer qdx_explicit");
    });

    it("defaults to http://localhost:8000/v1, a 10 minute timeout and 2 retries", () => {
        const client = new QuandexClient({ apiKey: "qdx_x" });
        assert.equal(client.baseURL, DEFAULT_BASE_URL);
        assert.equal(DEFAULT_BASE_URL, "http://localhost:8000/v1");
        assert.equal(client.timeout, 600_000);
        assert.equal(client.maxRetries, 2);
    });

    it("refuses to start without a key, and rejects invalid options instead of falling back", () => {
        assert.throws(
            () => new QuandexClient(),
            (e: unknown) => e instanceof QuandexError && /QUANDEX_API_KEY/.test(e.message)
        );
        assert.throws(() => new QuandexClient({ apiKey: "k", timeout: 0 }), QuandexError);
        assert.throws(() => new QuandexClient({ apiKey: "k", maxRetries: -1 }), QuandexError);
        assert.throws(() => new QuandexClient({ apiKey: "k", maxRetries: 1.5 }), QuandexError);
        assert.throws(() => new QuandexClient({ apiKey: "k", baseURL: "localhost:8000" }), QuandexError);
    });

    it("works where there is no `process` (browsers)", () => {
        const descriptor = Object.getOwnPropertyDescriptor(globalThis, "process")!;
        Object.defineProperty(globalThis, "process", { value: undefined, configurable: true, writable: true });
        try {
            const client = new QuandexClient({ apiKey: "qdx_browser" });
            assert.equal(client.baseURL, DEFAULT_BASE_URL);
            assert.throws(() => new QuandexClient(), QuandexError);
        } finally {
            Object.defineProperty(globalThis, "process", descriptor);
        }
    });

    it("does not show the key when the client is logged", () => {
        const client = new QuandexClient({ apiKey: "qdx_secret_value" });
        assert.doesNotMatch(JSON.stringify(client), /qdx_secret_value/);
    });
});

describe("QuandexClient calls", () => {
    it("generate() posts the params and adds .text while keeping the wire body", async () => {
        const script = scriptedFetch(jsonResponse(200, generateResponse));
        const result = await make(script.fetch).generate({ model: "stories", prompt: "Once", temperature: 0, max_tokens: 5, seed: 7 });
        assert.equal(result.text, "Once upon a time");
        assert.deepEqual(JSON.parse(JSON.stringify(result)), generateResponse);
        const [request] = script.requests;
        assert.equal(request!.method, "POST");
        assert.equal(request!.url, "http://quandex.test/v1/generate");
        assert.equal(request!.headers.get("content-type"), "application/json");
        assert.deepEqual(request!.body, { model: "stories", prompt: "Once", temperature: 0, max_tokens: 5, seed: 7 });
    });

    it("generate() never sends stream: true, even when a JavaScript caller passes it", async () => {
        const script = scriptedFetch(jsonResponse(200, generateResponse));
        await make(script.fetch).generate({ model: "m", prompt: "p", stream: true } as never);
        assert.deepEqual(script.requests[0]!.body, { model: "m", prompt: "p" });
    });

    it("escapes model ids in paths", async () => {
        const script = scriptedFetch(jsonResponse(200, entry("ready")));
        await make(script.fetch).getModel("org/model name");
        assert.equal(script.requests[0]!.url, "http://quandex.test/v1/models/org%2Fmodel%20name");
    });

    it("health() calls /health beside /v1", async () => {
        const script = scriptedFetch(jsonResponse(200, { status: "ok", live: true, ready: true, uptime_seconds: 3 }));
        assert.equal((await make(script.fetch).health()).status, "ok");
        assert.equal(script.requests[0]!.url, "http://quandex.test/health");
    });

    it("getModelStats() joins the model entry with its /v1/stats figures, resolving an alias", async () => {
        const script = scriptedFetch((request) =>
            request.url.endsWith("/stats")
                ? jsonResponse(200, { metal_device: {}, engine: {}, server: {}, models: { stories260K: modelStats } })
                : jsonResponse(200, entry("ready"))
        );
        const stats = await make(script.fetch).getModelStats("tiny");
        assert.deepEqual(stats, { ...entry("ready"), ...modelStats });
        assert.equal(stats.memory_usage, "2MB");
        assert.equal(stats.average_latency, "100ms");
        assert.deepEqual(script.requests.map((r) => r.url).sort(), ["http://quandex.test/v1/models/tiny", "http://quandex.test/v1/stats"]);
    });

    it("getModelStats() reports zeros for a model that has served nothing, and NotFoundError for none", async () => {
        const idle = scriptedFetch((request) =>
            request.url.endsWith("/stats") ? jsonResponse(200, { metal_device: {}, engine: {}, server: {}, models: {} }) : jsonResponse(200, entry("unloaded"))
        );
        const stats = await make(idle.fetch).getModelStats("stories260K");
        assert.equal(stats.requests_total, 0);
        assert.equal(stats.status, "unloaded");

        const missing = scriptedFetch((request) =>
            request.url.endsWith("/stats") ? jsonResponse(200, { metal_device: {}, engine: {}, server: {}, models: {} }) : errorResponse(404, "model_not_found", "not_found_error")
        );
        await assert.rejects(make(missing.fetch).getModelStats("nope"), NotFoundError);
    });

    it("getUsage() reads /v1/usage", async () => {
        const script = scriptedFetch(jsonResponse(200, { requests_today: 3 }));
        assert.deepEqual(await make(script.fetch).getUsage(), { requests_today: 3 });
        assert.equal(script.requests[0]!.url, "http://quandex.test/v1/usage");
    });

    it("a 2xx with a body that is not JSON is a QuandexError naming the route", async () => {
        const script = scriptedFetch(new Response("<html>", { status: 200 }));
        await assert.rejects(make(script.fetch).getStats(), (e: unknown) => e instanceof QuandexError && /GET \/stats answered 200/.test(e.message));
    });
});

describe("waitUntilReady", () => {
    it("loads an unloaded model and polls until it is ready", async () => {
        const replies = [entry("unloaded"), entry("loading"), entry("loading"), entry("ready")];
        const script = scriptedFetch(...replies.map((e) => jsonResponse(e.status === "loading" ? 202 : 200, e)));
        const { sleep, delays } = recordingSleep();
        const ready = await make(script.fetch, { sleep }).waitUntilReady("stories", { pollInterval: 50 });
        assert.equal(ready.status, "ready");
        assert.deepEqual(
            script.requests.map((r) => `${r.method} ${new URL(r.url).pathname}`),
            ["GET /v1/models/stories", "POST /v1/models/stories/load", "GET /v1/models/stories", "GET /v1/models/stories"]
        );
        assert.deepEqual(delays, [50, 50]);
    });

    it("returns at once when the model is ready, and retries a model left in error", async () => {
        const ready = scriptedFetch(jsonResponse(200, entry("ready")));
        await make(ready.fetch).waitUntilReady("stories");
        assert.equal(ready.requests.length, 1);

        const recovered = scriptedFetch(jsonResponse(200, entry("error", { error: "old failure" })), jsonResponse(202, entry("ready")));
        assert.equal((await make(recovered.fetch).waitUntilReady("stories")).status, "ready");
        assert.equal(recovered.requests[1]!.method, "POST");
    });

    it("throws the server's reason when the load fails", async () => {
        const script = scriptedFetch(jsonResponse(200, entry("unloaded")), jsonResponse(202, entry("loading")), jsonResponse(200, entry("error", { error: "out of memory" })));
        const { sleep } = recordingSleep();
        await assert.rejects(make(script.fetch, { sleep }).waitUntilReady("stories"), (e: unknown) => e instanceof QuandexError && /failed to load: out of memory/.test(e.message));
    });

    it("throws APITimeoutError when the model stays loading", async () => {
        const script = scriptedFetch(jsonResponse(200, entry("loading")));
        await assert.rejects(make(script.fetch).waitUntilReady("stories", { timeout: 30, pollInterval: 5 }), APITimeoutError);
    });
});
