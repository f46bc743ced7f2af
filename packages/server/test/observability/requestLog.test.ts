import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FakeEngine } from "@quandex/engine/testing";
import { requireTestModel } from "@quandex/test-support";
import { bearer, createObsApp, type ObsApp } from "./obsApp.js";

const model = requireTestModel();
const json = { "content-type": "application/json" };

/** The log line of one request, by the id the server returned; fails unless there is exactly one. */
async function lineOf(o: ObsApp, requestId: string): Promise<Record<string, unknown>> {
    // The line is written when the response closes, which may be just after inject resolves.
    for (let i = 0; i < 50 && !o.lines.some((l) => l.request_id === requestId); i++) await new Promise((r) => setTimeout(r, 10));
    const lines = o.lines.filter((l) => l.request_id === requestId);
    assert.equal(lines.length, 1, `one line for ${requestId}, got ${JSON.stringify(lines)}`);
    return lines[0]!;
}

describe("one JSON log line per request", () => {
    let o: ObsApp;
    before(async () => {
        o = await createObsApp({ engine: new FakeEngine(), files: { "fake.gguf": model } });
    });
    after(async () => {
        await o.close();
    });

    it("a generation's line has the key id (never the key), model, tokens, queue time, TTFT, total time and finish reason", async () => {
        const res = await o.app.inject({
            method: "POST",
            url: "/v1/generate",
            headers: { ...bearer(o.keys.generate), ...json },
            payload: JSON.stringify({ model: "fake", prompt: "a secret prompt", max_tokens: 4 })
        });
        assert.equal(res.statusCode, 200, res.body);
        const line = await lineOf(o, String(res.headers["x-request-id"]));
        const usage = (res.json() as { usage?: { prompt_tokens: number; completion_tokens: number } }).usage;
        assert.equal(line.msg, "request");
        assert.equal(line.level, 30);
        assert.equal(line.method, "POST");
        assert.equal(line.route, "/v1/generate");
        assert.equal(line.status, 200);
        assert.equal(line.key_id, o.keys.generateId);
        assert.equal(line.model, "fake");
        assert.equal(typeof line.prompt_tokens, "number");
        assert.ok((line.prompt_tokens as number) > 0);
        assert.ok((line.output_tokens as number) > 0 && (line.output_tokens as number) <= 4);
        if (usage) assert.equal(line.output_tokens, usage.completion_tokens);
        assert.equal(typeof line.queue_ms, "number");
        assert.ok((line.ttft_ms as number) > 0);
        assert.ok((line.total_ms as number) >= (line.ttft_ms as number));
        assert.equal(typeof line.finish_reason, "string");
        assert.equal(line.error, null);
        assert.equal(line.client_request_id, null);
        const text = JSON.stringify(o.lines);
        assert.ok(!text.includes(o.keys.generate), "the key itself is never logged");
        assert.ok(!text.includes("a secret prompt"), "prompts are not logged by default");
        assert.equal(line.prompt, undefined);
        assert.equal(line.output, undefined);
    });

    it("a refused request's line has the catalogue code; an unauthenticated one has no key id", async () => {
        const res = await o.app.inject({
            method: "POST",
            url: "/v1/generate",
            headers: { ...bearer(o.keys.generate), ...json },
            payload: JSON.stringify({ model: "nope", prompt: "x" })
        });
        assert.equal(res.statusCode, 404);
        const line = await lineOf(o, String(res.headers["x-request-id"]));
        assert.equal(line.error, "model_not_found");
        assert.equal(line.model, "nope");
        assert.equal(line.status, 404);
        const anon = await o.app.inject({ method: "GET", url: "/v1/models" });
        const anonLine = await lineOf(o, String(anon.headers["x-request-id"]));
        assert.equal(anonLine.status, 401);
        assert.equal(anonLine.key_id, null);
        assert.equal(anonLine.error, "invalid_api_key");
        const lost = await o.app.inject({ method: "GET", url: "/no/such/route", headers: bearer(o.keys.read) });
        assert.equal((await lineOf(o, String(lost.headers["x-request-id"]))).route, "unmatched");
    });

    it("a streamed generation gets one line too, with its TTFT", async () => {
        const res = await o.app.inject({
            method: "POST",
            url: "/v1/generate",
            headers: { ...bearer(o.keys.generate), ...json },
            payload: JSON.stringify({ model: "fake", prompt: "stream me", max_tokens: 3, stream: true })
        });
        assert.equal(res.statusCode, 200);
        const line = await lineOf(o, String(res.headers["x-request-id"]));
        assert.ok((line.ttft_ms as number) > 0);
        assert.ok((line.output_tokens as number) > 0);
    });

    it("keeps a client's x-request-id in client_request_id and always answers with the server's own id", async () => {
        const mimic = "req_0123456789ab0";
        const res = await o.app.inject({ method: "GET", url: "/v1/models", headers: { ...bearer(o.keys.read), "x-request-id": mimic } });
        const id = String(res.headers["x-request-id"]);
        assert.notEqual(id, mimic, "the client's value is never passed off as the server's");
        assert.match(id, /^req_[0-9a-f]{12}[0-9a-z]+$/);
        const line = await lineOf(o, id);
        assert.equal(line.client_request_id, mimic);
        // Two requests never share an id, whatever the client sends.
        const again = await o.app.inject({ method: "GET", url: "/v1/models", headers: { ...bearer(o.keys.read), "x-request-id": mimic } });
        assert.notEqual(String(again.headers["x-request-id"]), id);
        // A value that is not a plain token is not kept.
        const odd = await o.app.inject({ method: "GET", url: "/v1/models", headers: { ...bearer(o.keys.read), "x-request-id": "a b\tc" } });
        assert.equal((await lineOf(o, String(odd.headers["x-request-id"]))).client_request_id, null);
    });
});

describe("server.log_prompts", () => {
    it("true puts the prompt and the output in the line", async () => {
        const o = await createObsApp({ engine: new FakeEngine(), files: { "fake.gguf": model }, logPrompts: true });
        try {
            const res = await o.app.inject({
                method: "POST",
                url: "/v1/generate",
                headers: { ...bearer(o.keys.generate), ...json },
                payload: JSON.stringify({ model: "fake", prompt: "tell me a story", max_tokens: 4 })
            });
            assert.equal(res.statusCode, 200, res.body);
            const line = await lineOf(o, String(res.headers["x-request-id"]));
            assert.match(JSON.stringify(line.prompt), /tell me a story/);
            assert.equal(line.output, (res.json() as { choices: Array<{ text: string }> }).choices[0]!.text);
        } finally {
            await o.close();
        }
    });
});

it("a stream the client cuts still gets its one line, marked aborted", async () => {
    const engine = new FakeEngine({ tokenDelayMs: 20 });
    engine.eosAfter = 1000;
    const o = await createObsApp({ engine, files: { "fake.gguf": model } });
    try {
        const url = await o.app.listen({ host: "127.0.0.1", port: 0 });
        const abort = new AbortController();
        const res = await fetch(`${url}/v1/generate`, {
            method: "POST",
            headers: { ...bearer(o.keys.generate), ...json },
            body: JSON.stringify({ model: "fake", prompt: "go on", max_tokens: 200, stream: true }),
            signal: abort.signal
        });
        assert.equal(res.status, 200);
        const reader = res.body!.getReader();
        let text = "";
        while (!text.includes("tok2")) text += new TextDecoder().decode((await reader.read()).value);
        abort.abort();
        const line = await lineOf(o, res.headers.get("x-request-id")!);
        assert.equal(line.aborted, true);
        assert.equal(line.status, 200);
        assert.ok((line.ttft_ms as number) > 0);
    } finally {
        await o.close();
    }
});
