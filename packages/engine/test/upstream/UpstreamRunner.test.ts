import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { QuandexError } from "@quandex/protocol";
import { FakeEngine } from "@quandex/engine/testing";
import { silentLogger, UpstreamEngine, UpstreamPool, UpstreamRunner, upstreamPoolDefaults, type GenerationEvent, type UpstreamPoolConfig } from "@quandex/engine";

/**
 * Fault injection against scripted OpenAI-compatible servers (node:http), for the failures a real
 * engine cannot be made to produce on demand: 429s, garbage, stalls, a socket cut mid-stream.
 * The same behaviour on real llama-server processes is in packages/server/test/scale/.
 */
type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Record<string, unknown>) => void;

const servers: http.Server[] = [];
after(async () => {
    for (const s of servers) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
    }
});

async function fakeUpstream(handler: Handler): Promise<{ url: string; hits: () => number; closed: () => number }> {
    let hits = 0;
    let closed = 0;
    const server = http.createServer((req, res) => {
        if (req.url === "/health") {
            res.end("{}");
            return;
        }
        let raw = "";
        req.on("data", (c) => (raw += c));
        req.on("end", () => {
            hits++;
            res.on("close", () => {
                if (!res.writableFinished) closed++;
            });
            handler(req, res, raw ? (JSON.parse(raw) as Record<string, unknown>) : {});
        });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits, closed: () => closed };
}

function sse(res: http.ServerResponse): void {
    res.writeHead(200, { "content-type": "text/event-stream" });
}
function chunk(res: http.ServerResponse, text: string, finish: string | null = null): void {
    res.write(`data: ${JSON.stringify({ choices: [{ index: 0, text, finish_reason: finish }] })}\n\n`);
}
/** A well-behaved stream: `n` tokens, usage, [DONE]. */
const streams =
    (n: number, delayMs = 0): Handler =>
    async (_req, res) => {
        sse(res);
        for (let i = 0; i < n; i++) {
            if (delayMs) await sleep(delayMs);
            if (res.destroyed) return;
            chunk(res, `t${i} `);
        }
        chunk(res, "", "length");
        res.write(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 3, completion_tokens: n } })}\n\n`);
        res.end("data: [DONE]\n\n");
    };

function poolConfig(urls: string[], overrides: Partial<UpstreamPoolConfig> = {}): UpstreamPoolConfig {
    return {
        ...upstreamPoolDefaults,
        name: "gpu",
        type: "openai",
        endpoints: urls.map((url) => ({ url, apiKey: "sk-secret-never-shown", weight: 1 })),
        models: [{ id: "m", upstreamModel: "m", aliases: [], contextSize: 4096 }],
        discover: false,
        healthCheck: { path: "/health", intervalMs: 60_000, timeoutMs: 1_000 },
        ...overrides
    };
}

const sampling = { temperature: 0, topP: 1, topK: 1, seed: 1, repeatPenalty: 1, ignoreEos: false, stop: [], maxTokens: 4 };

async function run(runner: UpstreamRunner, signal = new AbortController().signal): Promise<{ text: string; done?: Extract<GenerationEvent, { type: "done" }>; error?: unknown }> {
    let text = "";
    try {
        for await (const event of runner.generate({ promptTokens: [], sampling, text: { prompt: "hi" } }, signal)) {
            if (event.type === "text") text += event.text;
            else return { text, done: event };
        }
        return { text };
    } catch (error) {
        return { text, error };
    }
}

function makeRunner(config: UpstreamPoolConfig): { pool: UpstreamPool; runner: UpstreamRunner } {
    const pool = new UpstreamPool(config, silentLogger);
    after(() => pool.close());
    return { pool, runner: new UpstreamRunner(pool, { id: "m", upstreamModel: "m" }, 4096, 64, silentLogger) };
}

function assertUnavailable(error: unknown, pattern: RegExp): QuandexError {
    assert.ok(error instanceof QuandexError, `expected a QuandexError, got ${String(error)}`);
    assert.equal(error.status, 503);
    assert.match(error.message, /upstream pool 'gpu'/);
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /sk-secret/);
    return error;
}

describe("UpstreamRunner against scripted upstreams", () => {
    it("streams text and takes the counts from the upstream's usage, sending the key and the upstream model", async () => {
        let seen: { auth?: string; body?: Record<string, unknown> } = {};
        const a = await fakeUpstream((req, res, body) => {
            seen = { auth: req.headers.authorization, body };
            void streams(2)(req, res, body);
        });
        const { runner } = makeRunner(poolConfig([a.url]));
        const { text, done } = await run(runner);
        assert.equal(text, "t0 t1 ");
        assert.equal(done?.finishReason, "length");
        assert.equal(done?.promptTokens, 3);
        assert.equal(done?.completionTokens, 2);
        assert.equal(seen.auth, "Bearer sk-secret-never-shown");
        assert.equal(seen.body?.model, "m");
        assert.equal(seen.body?.prompt, "hi");
        assert.equal(seen.body?.stream, true);
    });

    it("reads a finished stream to its end, so the next request reuses the kept-alive connection", async () => {
        const sockets = new Set<unknown>();
        // [DONE] and the end of the body in two writes, as a server that flushes each event sends them.
        const a = await fakeUpstream((req, res) => {
            sockets.add(req.socket);
            sse(res);
            chunk(res, "t0 ", "length");
            res.write("data: [DONE]\n\n");
            setTimeout(() => res.end(), 5);
        });
        const { runner } = makeRunner(poolConfig([a.url]));
        for (let i = 0; i < 3; i++) {
            assert.equal((await run(runner)).text, "t0 ");
            // The socket goes back to the pool once the response has been handled.
            await sleep(10);
        }
        assert.equal(sockets.size, 1, `three requests in a row opened ${sockets.size} connections`);
        assert.equal(a.closed(), 0, "no stream was cut off");
    });

    it("balances by least outstanding requests: 8 concurrent streams split 4/4 over two endpoints", async () => {
        const a = await fakeUpstream(streams(3, 20));
        const b = await fakeUpstream(streams(3, 20));
        const { runner } = makeRunner(poolConfig([a.url, b.url]));
        const results = await Promise.all(Array.from({ length: 8 }, () => run(runner)));
        assert.ok(
            results.every((r) => r.done),
            JSON.stringify(results.map((r) => String(r.error)))
        );
        assert.equal(a.hits(), 4);
        assert.equal(b.hits(), 4);
    });

    it("weights: an endpoint of weight 3 takes 3 of 4 concurrent streams", async () => {
        const a = await fakeUpstream(streams(3, 30));
        const b = await fakeUpstream(streams(3, 30));
        const config = poolConfig([a.url, b.url]);
        const { runner } = makeRunner({ ...config, endpoints: [{ ...config.endpoints[0]!, weight: 3 }, config.endpoints[1]!] });
        await Promise.all(Array.from({ length: 4 }, () => run(runner)));
        assert.equal(a.hits(), 3);
        assert.equal(b.hits(), 1);
    });

    it("fails over before the first token: a refused connection goes to the other endpoint, at most once", async () => {
        const dead = await fakeUpstream(streams(1));
        const deadUrl = dead.url;
        const s = servers.pop()!;
        await new Promise((r) => s.close(r));
        const b = await fakeUpstream(streams(2));
        const { runner } = makeRunner(poolConfig([deadUrl, b.url]));
        for (let i = 0; i < 4; i++) {
            const r = await run(runner);
            assert.equal(r.text, "t0 t1 ", String(r.error));
        }
        const { runner: noRetry } = makeRunner(poolConfig([deadUrl, b.url], { maxRetries: 0 }));
        const outcomes = await Promise.all([run(noRetry), run(noRetry)]);
        assert.ok(
            outcomes.some((r) => r.error),
            "without retries a request on the dead endpoint fails"
        );
        assertUnavailable(outcomes.find((r) => r.error)!.error, /connection refused/);
    });

    it("ends a stream cut after its first token with an error, and never replays it elsewhere", async () => {
        const a = await fakeUpstream((_req, res) => {
            sse(res);
            chunk(res, "half ");
            setTimeout(() => res.socket?.destroy(), 20);
        });
        const b = await fakeUpstream(streams(2));
        const { runner } = makeRunner(poolConfig([a.url, b.url]));
        const r = await run(runner);
        assert.equal(r.text, "half ");
        assertUnavailable(r.error, /while streaming|ended its stream/);
        assert.equal(b.hits(), 0);
    });

    it("maps the upstream's 429 to a 503 with its Retry-After, after trying the other endpoint", async () => {
        const limited: Handler = (_req, res) => {
            res.writeHead(429, { "content-type": "application/json", "retry-after": "7" });
            res.end(JSON.stringify({ error: { message: "slow down" } }));
        };
        const a = await fakeUpstream(limited);
        const b = await fakeUpstream(limited);
        const { runner, pool } = makeRunner(poolConfig([a.url, b.url]));
        const r = await run(runner);
        const error = assertUnavailable(r.error, /429/);
        assert.equal(error.retryAfter, 7);
        assert.equal(a.hits() + b.hits(), 2);
        assert.deepEqual(pool.health(), { healthy: 2, total: 2 }, "a 429 is not the endpoint's failure");
    });

    it("names garbage, a non-SSE body and a stall, and a DNS failure, without the key", async () => {
        const html = await fakeUpstream((_req, res) => {
            res.writeHead(200, { "content-type": "text/html" });
            res.end("<html>proxy login</html>");
        });
        assertUnavailable((await run(makeRunner(poolConfig([html.url], { maxRetries: 0 })).runner)).error, /text\/html, not an event stream/);
        const garbage = await fakeUpstream((_req, res) => {
            sse(res);
            res.end("data: {not json\n\n");
        });
        assertUnavailable((await run(makeRunner(poolConfig([garbage.url], { maxRetries: 0 })).runner)).error, /not JSON/);
        const stall = await fakeUpstream((_req, res) => {
            sse(res);
            chunk(res, "a ");
        });
        const started = Date.now();
        const stalled = await run(makeRunner(poolConfig([stall.url], { maxRetries: 0, idleTimeoutMs: 300 })).runner);
        assert.equal(stalled.text, "a ");
        assertUnavailable(stalled.error, /stalled past the idle timeout/);
        assert.ok(Date.now() - started < 5_000);
        assertUnavailable((await run(makeRunner(poolConfig(["http://no-such-host.invalid:8000"], { maxRetries: 0 })).runner)).error, /DNS/);
    });

    it("ejects an endpoint after consecutive failures, then lets it back after the back-off", async () => {
        let fail = true;
        const a = await fakeUpstream((req, res, body) => {
            if (fail) {
                res.writeHead(500);
                res.end("boom");
            } else void streams(1)(req, res, body);
        });
        const { runner, pool } = makeRunner(poolConfig([a.url], { maxRetries: 0, ejectAfter: 2, backoffMs: 300 }));
        await run(runner);
        assert.deepEqual(pool.health(), { healthy: 1, total: 1 });
        assertUnavailable((await run(runner)).error, /answered 500/);
        assert.deepEqual(pool.health(), { healthy: 0, total: 1 });
        assertUnavailable((await run(runner)).error, /no healthy endpoint/);
        assert.equal(a.hits(), 2, "an ejected endpoint gets no requests");
        fail = false;
        await sleep(350);
        assert.equal((await run(runner)).text, "t0 ");
    });

    it("the active health check takes a dead endpoint out and puts it back when it answers again", async () => {
        let up = true;
        const server = http.createServer((req, res) => {
            res.writeHead(up ? 200 : 503);
            res.end();
        });
        servers.push(server);
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const { pool } = makeRunner(poolConfig([`http://127.0.0.1:${(server.address() as AddressInfo).port}`]));
        await pool.checkAll();
        assert.deepEqual(pool.health(), { healthy: 1, total: 1 });
        up = false;
        await pool.checkAll();
        assert.deepEqual(pool.health(), { healthy: 0, total: 1 });
        up = true;
        await pool.checkAll();
        assert.deepEqual(pool.health(), { healthy: 1, total: 1 });
    });

    it("discover: serves every model the upstream lists, beside the configured ones, and loads them as upstream runners", async () => {
        const server = http.createServer((req, res) => {
            res.setHeader("content-type", "application/json");
            res.end(req.url === "/v1/models" ? JSON.stringify({ object: "list", data: [{ id: "m" }, { id: "org/other" }] }) : "{}");
        });
        servers.push(server);
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const engine = new UpstreamEngine(new FakeEngine(), [poolConfig([url], { discover: true })], silentLogger);
        after(() => engine.dispose());
        const models = await engine.upstreamModels();
        assert.deepEqual(
            models.map((m) => [m.id, m.path, m.upstream?.pool, m.upstream?.model]),
            [
                ["m", "upstream:gpu/m", "gpu", "m"],
                ["org/other", "upstream:gpu/org/other", "gpu", "org/other"]
            ]
        );
        const runner = await engine.load({ id: "org/other", path: "upstream:gpu/org/other", options: { contextSize: 4096, parallel: 64, gpu: false, threads: 1 } });
        assert.ok(runner instanceof UpstreamRunner);
        assert.equal(await engine.estimate({ id: "x", path: "upstream:gpu/m", options: { contextSize: 1, parallel: 1, gpu: false, threads: 1 } }), 0);
    });

    it("aborting the signal closes the upstream request", async () => {
        const a = await fakeUpstream(streams(1_000, 10));
        const { runner } = makeRunner(poolConfig([a.url]));
        const abort = new AbortController();
        let got = 0;
        for await (const event of runner.generate({ promptTokens: [], sampling, text: { prompt: "x" } }, abort.signal)) {
            if (event.type === "text" && ++got === 3) abort.abort();
        }
        await sleep(100);
        assert.equal(a.closed(), 1, "the upstream saw its response closed before it finished");
    });
});
