/**
 * The SDK against a real `quandex serve` with the real model (stories260K). The server runs with
 * one sequence and no queue, so a single long stream makes the next request 503 `server_busy`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
    APIConnectionError,
    APIError,
    APITimeoutError,
    APIUserAbortError,
    AuthenticationError,
    BadRequestError,
    ModelLoadingError,
    NotFoundError,
    PermissionDeniedError,
    QuandexClient,
    RateLimitError,
    ServiceUnavailableError,
    type GenerateStreamChunk
} from "../../src/index.js";
import { freePort, modelId, startQuandex, unavailableReason, type RunningServer } from "./support/quandexServer.js";
import { allowedSkip } from "../helpers/allowedSkip.js";

const unavailable = unavailableReason();
const skip = unavailable === null ? null : allowedSkip(unavailable);
const alias = "tiny-stories";
/** Greedy output from "Once upon a time" (see shared/models/README.md). */
const golden = ", there was a little girl named Lily. She loved to play outside in the park.";
/** A generation long enough (tens of seconds) that only an abort can end it early. */
const longParams = { model: modelId, prompt: "Once upon a time", max_tokens: 4000, ignore_eos: true, temperature: 0.8 };

describe("SDK against a real server", { skip: skip ?? false }, () => {
    let server: RunningServer;
    let client: QuandexClient;
    let key: string;

    before(async () => {
        server = await startQuandex({ modelDefaults: { context_size: 4096, parallel: 1 }, server: { max_queue: 0 }, aliases: [alias] });
        // Unlimited, so the per-key limits (when enforced) never interfere with the other tests.
        key = await server.createKey("generate,read,admin", ["--unlimited"]);
        client = new QuandexClient({ apiKey: key, baseURL: server.baseURL });
        await client.waitUntilReady(modelId, { timeout: 60_000 });
    });

    after(async () => {
        await server?.stop();
    });

    /** Polls /v1/stats until no sequence is active; returns how long it took. */
    async function waitForIdle(limitMs: number): Promise<number> {
        const started = Date.now();
        for (;;) {
            const stats = await client.getStats();
            if (stats.server.active_sequences === 0 && stats.models[modelId]?.active_sequences === 0) return Date.now() - started;
            if (Date.now() - started > limitMs) assert.fail(`still ${stats.server.active_sequences} active sequence(s) after ${limitMs} ms`);
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
    }

    it("generate(): the greedy story, with .text, usage and metal_stats", async () => {
        const result = await client.generate({ model: modelId, prompt: "Once upon a time", max_tokens: 20, temperature: 0 });
        assert.ok(result.text.startsWith(golden.slice(0, 40)), result.text);
        assert.equal(result.text, result.choices[0]!.text);
        assert.equal(result.choices[0]!.finish_reason, "length");
        assert.equal(result.usage.completion_tokens, 20);
        assert.equal(result.model, modelId);
        assert.match(result.id, /^gen_/);
        assert.equal(typeof result.metal_stats.tokens_per_second, "number");
    });

    it("streamGenerate(): chunks add up to the same greedy text; the last has usage and metal_stats", async () => {
        const chunks: GenerateStreamChunk[] = [];
        for await (const chunk of client.streamGenerate({ model: alias, prompt: "Once upon a time", max_tokens: 20, temperature: 0 })) chunks.push(chunk);
        const whole = await client.generate({ model: modelId, prompt: "Once upon a time", max_tokens: 20, temperature: 0 });
        assert.equal(chunks.map((c) => c.text).join(""), whole.text);
        const last = chunks.at(-1)!;
        assert.equal(last.finish_reason, "length");
        assert.equal(last.usage?.completion_tokens, 20);
        assert.ok(last.metal_stats);
        assert.ok(chunks.slice(0, -1).every((c) => c.finish_reason === null && c.usage === undefined));
        assert.equal(last.model, alias, "the model name as asked");
    });

    it("breaking out of a stream frees the sequence: /v1/stats active_sequences returns to 0", async () => {
        let sawActive = false;
        let received = 0;
        for await (const chunk of client.streamGenerate(longParams)) {
            received += chunk.text.length > 0 ? 1 : 0;
            if (received === 5) {
                sawActive = (await client.getStats()).server.active_sequences === 1;
                break;
            }
        }
        assert.ok(sawActive, "the generation was running");
        const ms = await waitForIdle(3000);
        assert.ok(ms < 3000);
    });

    it("aborting the signal mid-stream throws APIUserAbortError and frees the sequence", async () => {
        const controller = new AbortController();
        let received = 0;
        const error = await (async () => {
            for await (const _ of client.streamGenerate(longParams, { signal: controller.signal })) {
                if (++received === 3) controller.abort();
            }
        })().catch((e: unknown) => e);
        assert.ok(error instanceof APIUserAbortError, String(error));
        await waitForIdle(3000);
    });

    it("getModelStats() joins the model entry and its stats, through an alias", async () => {
        const stats = await client.getModelStats(alias);
        assert.equal(stats.id, modelId);
        assert.equal(stats.status, "ready");
        assert.deepEqual(stats.aliases, [alias]);
        assert.match(stats.memory_usage, /^\d+(\.\d+)?(B|KB|MB|GB)$/);
        assert.equal(typeof stats.metal_optimized, "boolean");
        assert.ok(stats.requests_total >= 2, `requests_total ${stats.requests_total}`);
        assert.equal(typeof stats.average_latency, "string");
        const list = await client.listModels();
        assert.deepEqual(list.data.map((m) => m.id).sort(), [alias, modelId].sort());
    });

    it("getUsage()", async () => {
        const usage = await client.getUsage();
        assert.equal(typeof usage, "object");
    });

    describe("every error class, triggered for real", () => {
        const noRetry = { maxRetries: 0 };

        it("BadRequestError 400 invalid_parameter, with param", async () => {
            const error = await client.generate({ model: modelId, prompt: "x", temperature: 5 }, noRetry).catch((e: unknown) => e);
            assert.ok(error instanceof BadRequestError);
            assert.equal(error.status, 400);
            assert.equal(error.code, "invalid_parameter");
            assert.equal(error.type, "invalid_request_error");
            assert.equal(error.param, "temperature");
            assert.match(error.requestId ?? "", /^req_/);
        });

        it("BadRequestError 400 for an unknown field", async () => {
            const error = await client.generate({ model: modelId, prompt: "x", tempreature: 1 } as never, noRetry).catch((e: unknown) => e);
            assert.ok(error instanceof BadRequestError && error.code === "invalid_parameter" && error.param === "tempreature", String(error));
        });

        it("BadRequestError 400 context_length_exceeded", async () => {
            const error = await client.generate({ model: modelId, prompt: "x", max_tokens: 100_000 }, noRetry).catch((e: unknown) => e);
            assert.ok(error instanceof BadRequestError && error.code === "context_length_exceeded", String(error));
        });

        it("BadRequestError 413 payload_too_large", async () => {
            const error = await client.generate({ model: modelId, prompt: "x".repeat(2_000_000) }, noRetry).catch((e: unknown) => e);
            assert.ok(error instanceof BadRequestError, String(error));
            assert.equal(error.status, 413);
            assert.equal(error.code, "payload_too_large");
        });

        it("BadRequestError 415 unsupported_media_type", async () => {
            // The SDK always sends JSON, so a fetch wrapper changes the Content-Type on the way out.
            // (text/plain is not used: Fastify parses it as a string, which gives 400 invalid_parameter.)
            const xml: typeof fetch = (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), "Content-Type": "application/xml" } });
            const odd = new QuandexClient({ apiKey: key, baseURL: server.baseURL, fetch: xml, maxRetries: 0 });
            const error = await odd.generate({ model: modelId, prompt: "x" }).catch((e: unknown) => e);
            assert.ok(error instanceof BadRequestError, String(error));
            assert.equal(error.status, 415);
            assert.equal(error.code, "unsupported_media_type");
        });

        it("AuthenticationError 401 invalid_api_key", async () => {
            const stranger = new QuandexClient({ apiKey: "qdx_" + "A".repeat(43), baseURL: server.baseURL, maxRetries: 0 });
            const error = await stranger.listModels().catch((e: unknown) => e);
            assert.ok(error instanceof AuthenticationError, String(error));
            assert.equal(error.status, 401);
            assert.equal(error.code, "invalid_api_key");
            assert.match(error.headers.get("www-authenticate") ?? "", /^Bearer/);
        });

        it("PermissionDeniedError 403 insufficient_scope", async () => {
            const reader = new QuandexClient({ apiKey: await server.createKey("read"), baseURL: server.baseURL, maxRetries: 0 });
            const error = await reader.generate({ model: modelId, prompt: "x" }).catch((e: unknown) => e);
            assert.ok(error instanceof PermissionDeniedError, String(error));
            assert.equal(error.code, "insufficient_scope");
            const unload = await reader.unloadModel(modelId).catch((e: unknown) => e);
            assert.ok(unload instanceof PermissionDeniedError, String(unload));
        });

        it("NotFoundError 404 model_not_found and route_not_found", async () => {
            const model = await client.generate({ model: "no-such-model", prompt: "x" }, noRetry).catch((e: unknown) => e);
            assert.ok(model instanceof NotFoundError && model.code === "model_not_found", String(model));
            const getModel = await client.getModel("no-such-model").catch((e: unknown) => e);
            assert.ok(getModel instanceof NotFoundError);
            const route = await client.request("GET", "/no-such-route").catch((e: unknown) => e);
            assert.ok(route instanceof NotFoundError && route.code === "route_not_found", String(route));
        });

        it("RateLimitError 429 rate_limit_exceeded, retried after Retry-After", async () => {
            const limitedKey = await server.createKey("generate,read", ["--burst", "1", "--rps", "0.5"]);
            let calls = 0;
            const counting: typeof fetch = (input, init) => {
                calls++;
                return fetch(input, init);
            };
            const limited = new QuandexClient({ apiKey: limitedKey, baseURL: server.baseURL, maxRetries: 0, fetch: counting });
            const outcomes = await Promise.all([limited.listModels(), limited.listModels(), limited.listModels()].map((p) => p.catch((e: unknown) => e)));
            const rejected = outcomes.find((o) => o instanceof RateLimitError);
            assert.ok(rejected !== undefined, `3 requests at burst 1 all passed: ${outcomes.map(String).join(", ")}`);
            assert.equal(rejected.status, 429);
            assert.equal(rejected.code, "rate_limit_exceeded");
            assert.match(rejected.headers.get("retry-after") ?? "", /^\d+$/);
            // With retries on, the SDK waits Retry-After and gets through.
            const patient = new QuandexClient({ apiKey: limitedKey, baseURL: server.baseURL, maxRetries: 2, fetch: counting });
            calls = 0;
            await patient.listModels();
            assert.ok(calls >= 1);
        });

        it("RateLimitError 429 daily_quota_exceeded is not retried", async () => {
            const quotaKey = await server.createKey("generate,read", ["--daily", "1"]);
            let calls = 0;
            const counting: typeof fetch = (input, init) => {
                calls++;
                return fetch(input, init);
            };
            const quota = new QuandexClient({ apiKey: quotaKey, baseURL: server.baseURL, fetch: counting });
            await quota.generate({ model: modelId, prompt: "x", max_tokens: 1 });
            calls = 0;
            const error = await quota.generate({ model: modelId, prompt: "x", max_tokens: 1 }).catch((e: unknown) => e);
            assert.ok(error instanceof RateLimitError, `a second request on --daily 1: ${String(error)}`);
            assert.equal(error.code, "daily_quota_exceeded");
            assert.equal(calls, 1, "no retry on a daily quota");
        });

        it("ServiceUnavailableError 503 server_busy while the only sequence is taken (no queue)", async () => {
            const stream = client.streamGenerate(longParams);
            const iterator = stream[Symbol.asyncIterator]();
            try {
                await iterator.next(); // the sequence is now held
                const error = await client.generate({ model: modelId, prompt: "x", max_tokens: 1 }, noRetry).catch((e: unknown) => e);
                assert.ok(error instanceof ServiceUnavailableError && !(error instanceof ModelLoadingError), String(error));
                assert.equal(error.status, 503);
                assert.equal(error.code, "server_busy");
                assert.match(error.headers.get("retry-after") ?? "", /^\d+$/);
            } finally {
                await iterator.return?.();
            }
            await waitForIdle(3000);
        });

        it("ModelLoadingError 503 model_loading while the model loads, then waitUntilReady", async () => {
            // A server whose requests wait 1 ms at most for a load (request_timeout), so the first
            // request for an unloaded model gets 503 model_loading on any machine, however fast.
            const impatient = await startQuandex({ modelDefaults: { context_size: 4096, parallel: 1 }, server: { request_timeout: 0.001 } });
            try {
                const admin = new QuandexClient({ apiKey: await impatient.createKey("generate,read,admin", ["--unlimited"]), baseURL: impatient.baseURL });
                await admin.unloadModel(modelId);
                for (let i = 0; i < 100 && (await admin.getModel(modelId)).status !== "unloaded"; i++) await new Promise((r) => setTimeout(r, 20));
                const seen = await admin.generate({ model: modelId, prompt: "x", max_tokens: 1 }, noRetry).catch((e: unknown) => e);
                assert.ok(seen instanceof ModelLoadingError, String(seen));
                assert.ok(seen instanceof ServiceUnavailableError);
                assert.equal(seen.status, 503);
                assert.equal(seen.code, "model_loading");
                assert.match(seen.headers.get("retry-after") ?? "", /^\d+$/);
                assert.equal((await admin.waitUntilReady(modelId, { timeout: 60_000 })).status, "ready");
            } finally {
                await impatient.stop();
            }
        });

        it("default retries ride out model_loading: generate right after a load succeeds", async () => {
            await client.unloadModel(modelId);
            for (let i = 0; i < 100 && (await client.getModel(modelId)).status !== "unloaded"; i++) await new Promise((r) => setTimeout(r, 20));
            await client.loadModel(modelId);
            const result = await client.generate({ model: modelId, prompt: "Once upon a time", max_tokens: 5, temperature: 0 });
            assert.equal(result.usage.completion_tokens, 5);
        });

        it("APITimeoutError when a call outlives its timeout, and the server frees the sequence", async () => {
            const error = await client.generate(longParams, { timeout: 300, maxRetries: 0 }).catch((e: unknown) => e);
            assert.ok(error instanceof APITimeoutError, String(error));
            await waitForIdle(3000);
        });

        it("APIConnectionError when nothing listens", async () => {
            const port = await freePort();
            const nowhere = new QuandexClient({ apiKey: key, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
            const error = await nowhere.listModels().catch((e: unknown) => e);
            assert.ok(error instanceof APIConnectionError && !(error instanceof APITimeoutError), String(error));
            assert.match(error.message, /ECONNREFUSED/);
        });

        it("APIUserAbortError for an aborted plain call", async () => {
            const error = await client.generate(longParams, { signal: AbortSignal.timeout(200) }).catch((e: unknown) => e);
            assert.ok(error instanceof APIUserAbortError, String(error));
            await waitForIdle(3000);
        });
    });

    it("every APIError from the server carries status and request id", async () => {
        const error = await client.getModel("nope").catch((e: unknown) => e);
        assert.ok(error instanceof APIError);
        assert.equal(typeof error.status, "number");
        assert.match(error.requestId ?? "", /^req_/);
    });
});

describe("a stream cut by a server shutdown", { skip: skip ?? false }, () => {
    it("throws the `event: error` frame as ServiceUnavailableError server_shutdown", async () => {
        const server = await startQuandex({ server: { shutdown_grace: 0.3 }, modelDefaults: { context_size: 4096 } });
        try {
            const client = new QuandexClient({ apiKey: await server.createKey("generate,read"), baseURL: server.baseURL });
            await client.waitUntilReady(modelId, { timeout: 60_000 });
            let received = 0;
            const error = await (async () => {
                for await (const _ of client.streamGenerate(longParams)) {
                    if (++received === 3) server.process.kill("SIGTERM");
                }
            })().catch((e: unknown) => e);
            assert.ok(error instanceof ServiceUnavailableError, `${String(error)}\n${server.log()}`);
            assert.equal(error.code, "server_shutdown");
            assert.equal(error.status, 503);
            assert.ok(received >= 3);
        } finally {
            await server.stop();
        }
    });
});
