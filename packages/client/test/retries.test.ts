import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
    APIConnectionError,
    APITimeoutError,
    APIUserAbortError,
    BadRequestError,
    ModelLoadingError,
    QuandexClient,
    RateLimitError,
    RetryPolicy,
    ServiceUnavailableError,
    type QuandexClientOptions
} from "../src/index.js";
import { chunk, errorResponse, jsonResponse, metalStats, recordingSleep, scriptedFetch, sseBody, usage } from "./helpers/fakeFetch.js";

const stats = { metal_device: {}, engine: {}, server: {}, models: {} };

function client(fetchImpl: typeof fetch, options: QuandexClientOptions = {}): { client: QuandexClient; delays: number[] } {
    const { sleep, delays } = recordingSleep();
    return {
        client: new QuandexClient({ apiKey: "qdx_test", baseURL: "http://quandex.test/v1", fetch: fetchImpl, sleep, random: () => 0, ...options }),
        delays
    };
}

const rateLimited = (retryAfter: string) => errorResponse(429, "rate_limit_exceeded", "rate_limit_error", { "retry-after": retryAfter });
const busy = () => errorResponse(503, "server_busy", "service_unavailable");

describe("retries", () => {
    it("waits Retry-After on 429 rate_limit_exceeded, then succeeds", async () => {
        const script = scriptedFetch(rateLimited("2"), jsonResponse(200, stats));
        const { client: c, delays } = client(script.fetch);
        assert.deepEqual(await c.getStats(), stats);
        assert.equal(script.requests.length, 2);
        assert.deepEqual(delays, [2000]);
    });

    it("caps Retry-After at 60 s", async () => {
        const script = scriptedFetch(rateLimited("3600"), jsonResponse(200, stats));
        const { client: c, delays } = client(script.fetch);
        await c.getStats();
        assert.deepEqual(delays, [60_000]);
    });

    it("never retries daily_quota_exceeded or auth_rate_limited", async () => {
        for (const code of ["daily_quota_exceeded", "auth_rate_limited"]) {
            const script = scriptedFetch(errorResponse(429, code, "rate_limit_error", { "retry-after": "5" }), jsonResponse(200, stats));
            const { client: c, delays } = client(script.fetch);
            const error = await c.getStats().catch((e: unknown) => e);
            assert.ok(error instanceof RateLimitError);
            assert.equal(error.code, code);
            assert.equal(script.requests.length, 1, code);
            assert.deepEqual(delays, []);
        }
    });

    it("retries any 503 (model_loading included) and stops after maxRetries (default 2)", async () => {
        const script = scriptedFetch(errorResponse(503, "model_loading", "service_unavailable", { "retry-after": "1" }));
        const { client: c, delays } = client(script.fetch);
        const error = await c.generate({ model: "m", prompt: "p" }).catch((e: unknown) => e);
        assert.ok(error instanceof ModelLoadingError);
        assert.equal(script.requests.length, 3, "1 try + 2 retries");
        assert.deepEqual(delays, [1000, 1000]);
    });

    it("backs off 0.5 s doubling to 8 s, less up to 25% jitter", async () => {
        const noJitter = client(scriptedFetch(busy()).fetch, { maxRetries: 6 });
        await noJitter.client.getStats().catch(() => {});
        assert.deepEqual(noJitter.delays, [500, 1000, 2000, 4000, 8000, 8000]);

        const fullJitter = client(scriptedFetch(busy()).fetch, { maxRetries: 3, random: () => 0.999999 });
        await fullJitter.client.getStats().catch(() => {});
        fullJitter.delays.forEach((delay, i) => {
            const base = [500, 1000, 2000][i]!;
            assert.ok(delay > base * 0.75 - 0.01 && delay < base, `${delay} within 25% below ${base}`);
        });
    });

    it("lets each call override maxRetries, and the client's default", async () => {
        const perCall = scriptedFetch(busy());
        await client(perCall.fetch)
            .client.getStats({ maxRetries: 0 })
            .catch(() => {});
        assert.equal(perCall.requests.length, 1);

        const perClient = scriptedFetch(busy());
        await client(perClient.fetch, { maxRetries: 4 })
            .client.getStats()
            .catch(() => {});
        assert.equal(perClient.requests.length, 5);
    });

    it("follows x-should-retry: true even on a status it would not retry", async () => {
        const script = scriptedFetch(errorResponse(500, "internal_error", "server_error", { "x-should-retry": "true" }), jsonResponse(200, stats));
        assert.deepEqual(await client(script.fetch).client.getStats(), stats);
        assert.equal(script.requests.length, 2);
    });

    it("retries a 429 without a Quandex code (a proxy's)", async () => {
        const script = scriptedFetch(new Response("Too Many Requests", { status: 429, headers: { "retry-after": "1" } }), jsonResponse(200, stats));
        const { client: c, delays } = client(script.fetch);
        await c.getStats();
        assert.deepEqual(delays, [1000]);
    });

    it("reads Retry-After as an HTTP date too", async () => {
        const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
        const script = scriptedFetch(rateLimited(inTenSeconds), jsonResponse(200, stats));
        const { client: c, delays } = client(script.fetch);
        await c.getStats();
        assert.ok(delays[0]! > 8000 && delays[0]! <= 10_000, String(delays[0]));
    });

    it("does not retry a timeout: the server may still be generating", async () => {
        const hang = scriptedFetch(
            (request) => new Promise<Response>((_resolve, reject) => request.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))))
        );
        const error = await client(hang.fetch, { timeout: 20 })
            .client.getStats()
            .catch((e: unknown) => e);
        assert.ok(error instanceof APITimeoutError);
        assert.equal(hang.requests.length, 1);
    });

    it("respects x-should-retry: false", async () => {
        const script = scriptedFetch(errorResponse(503, "server_shutdown", "service_unavailable", { "x-should-retry": "false" }));
        const error = await client(script.fetch)
            .client.getStats()
            .catch((e: unknown) => e);
        assert.ok(error instanceof ServiceUnavailableError);
        assert.equal(script.requests.length, 1);
    });

    it("does not retry other errors (400, 401, 404, 500)", async () => {
        for (const [status, code, type] of [
            [400, "invalid_parameter", "invalid_request_error"],
            [401, "invalid_api_key", "authentication_error"],
            [404, "model_not_found", "not_found_error"],
            [500, "internal_error", "server_error"]
        ] as const) {
            const script = scriptedFetch(errorResponse(status, code, type), jsonResponse(200, stats));
            await client(script.fetch)
                .client.getStats()
                .catch(() => {});
            assert.equal(script.requests.length, 1, code);
        }
    });

    it("retries connection errors with backoff, then gives up with APIConnectionError", async () => {
        const refused = new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED") });
        const recovered = scriptedFetch(refused, jsonResponse(200, stats));
        const first = client(recovered.fetch);
        assert.deepEqual(await first.client.getStats(), stats);
        assert.deepEqual(first.delays, [500]);

        const down = scriptedFetch(refused);
        const error = await client(down.fetch)
            .client.getStats()
            .catch((e: unknown) => e);
        assert.ok(error instanceof APIConnectionError);
        assert.equal(down.requests.length, 3);
    });

    it("retries a stream that failed before it started (503), then streams", async () => {
        const script = scriptedFetch(busy(), (request) => sseBody([chunk("Hi", "stop", { usage, metal_stats: metalStats }), "data: [DONE]\n\n"], request.signal).response);
        const texts: string[] = [];
        for await (const c of client(script.fetch).client.streamGenerate({ model: "m", prompt: "p" })) texts.push(c.text);
        assert.deepEqual(texts, ["Hi"]);
        assert.equal(script.requests.length, 2);
    });

    it("never re-sends a stream whose 200 arrived, whatever breaks afterwards", async () => {
        // 1: an error frame (503-typed, which would be retried before the start).
        const errorFrame = `event: error\ndata: ${JSON.stringify({ error: { code: "model_unavailable", message: "gone", type: "service_unavailable", param: null } })}\n\n`;
        const withFrame = scriptedFetch((request) => sseBody([chunk("a"), errorFrame], request.signal).response);
        const error1 = await drain(client(withFrame.fetch).client.streamGenerate({ model: "m", prompt: "p" }));
        assert.ok(error1 instanceof ServiceUnavailableError);
        assert.equal(withFrame.requests.length, 1);

        // 2: the body ends without [DONE] (connection dropped).
        const truncated = scriptedFetch((request) => sseBody([chunk("a"), 'data: {"id":'], request.signal).response);
        const error2 = await drain(client(truncated.fetch).client.streamGenerate({ model: "m", prompt: "p" }));
        assert.ok(error2 instanceof APIConnectionError);
        assert.equal(truncated.requests.length, 1);
    });

    it("a fired signal stops a retry wait", async () => {
        const script = scriptedFetch(rateLimited("30"));
        // The real sleep: the abort must cut the 30 s wait short.
        const c = new QuandexClient({ apiKey: "qdx_test", baseURL: "http://quandex.test/v1", fetch: script.fetch });
        const started = Date.now();
        const error = await c.getStats({ signal: AbortSignal.timeout(30) }).catch((e: unknown) => e);
        assert.ok(error instanceof APIUserAbortError);
        assert.ok(Date.now() - started < 5000);
        assert.equal(script.requests.length, 1);
    });

    it("RetryPolicy reads Retry-After only when it is a usable number of seconds", () => {
        const policy = new RetryPolicy(() => 0);
        assert.equal(policy.delayMs(0, new Headers({ "retry-after": "0" })), 0);
        assert.equal(policy.delayMs(1, new Headers({ "retry-after": "soon" })), 1000);
        assert.equal(policy.delayMs(2, new Headers({ "retry-after": "-3" })), 2000);
        assert.equal(policy.delayMs(0), 500);
        assert.equal(policy.shouldRetry(new BadRequestError(400, {})), false);
    });
});

async function drain(stream: AsyncIterable<unknown>): Promise<unknown> {
    try {
        for await (const _ of stream) {
            // read everything
        }
        return undefined;
    } catch (error) {
        return error;
    }
}
