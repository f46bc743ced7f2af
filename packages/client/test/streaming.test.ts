import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { APIConnectionError, APITimeoutError, APIUserAbortError, QuandexClient, QuandexError, type GenerateStreamChunk } from "../src/index.js";
import { chunk, metalStats, scriptedFetch, sseBody, usage, type RecordedRequest } from "./helpers/fakeFetch.js";

const story = [": ping\n\n", chunk("Once"), chunk(" upon"), ": ping\n\n", chunk("", "stop", { usage, metal_stats: metalStats }), "data: [DONE]\n\n"];

function client(fetchImpl: typeof fetch): QuandexClient {
    return new QuandexClient({ apiKey: "qdx_test", baseURL: "http://quandex.test/v1", fetch: fetchImpl, maxRetries: 0 });
}

/** A fetch whose SSE body is `frames`, remembering the request and how its body was closed. */
function streaming(frames: string[], keepOpen = false) {
    let closed: Promise<"cancel" | "abort"> | undefined;
    let request: RecordedRequest | undefined;
    const script = scriptedFetch((r) => {
        request = r;
        const body = sseBody(frames, r.signal, { keepOpen });
        closed = body.closed;
        return body.response;
    });
    return {
        fetch: script.fetch,
        requests: script.requests,
        closed: () => closed ?? Promise.reject(new Error("no request was sent")),
        request: () => request!
    };
}

describe("Stream", () => {
    it("yields chunks with .text and .finish_reason; the last carries usage and metal_stats", async () => {
        const fake = streaming(story);
        const chunks: GenerateStreamChunk[] = [];
        for await (const c of client(fake.fetch).streamGenerate({ model: "m", prompt: "Once", max_tokens: 3 })) chunks.push(c);
        assert.deepEqual(
            chunks.map((c) => [c.text, c.finish_reason]),
            [
                ["Once", null],
                [" upon", null],
                ["", "stop"]
            ]
        );
        assert.deepEqual(chunks.at(-1)!.usage, usage);
        assert.deepEqual(chunks.at(-1)!.metal_stats, metalStats);
        // The shortcuts do not leak into the wire shape.
        assert.deepEqual(JSON.parse(JSON.stringify(chunks[0])), { id: "gen_1", model: "m", choices: [{ text: "Once", finish_reason: null }] });
        assert.deepEqual(fake.requests[0]!.body, { model: "m", prompt: "Once", max_tokens: 3, stream: true });
        assert.equal(fake.requests[0]!.headers.get("accept"), "text/event-stream");
    });

    it("sends nothing until iterated", async () => {
        const fake = streaming(story);
        client(fake.fetch).streamGenerate({ model: "m", prompt: "p" });
        await new Promise((resolve) => setTimeout(resolve, 5));
        assert.equal(fake.requests.length, 0);
    });

    it("breaking out of the loop closes the request", async () => {
        const fake = streaming([chunk("a"), chunk("b")], true);
        for await (const c of client(fake.fetch).streamGenerate({ model: "m", prompt: "p" })) {
            assert.equal(c.text, "a");
            break;
        }
        assert.equal(fake.request().signal.aborted, true, "the fetch signal fired");
        assert.ok(["abort", "cancel"].includes(await fake.closed()));
    });

    it("aborting the caller's signal mid-stream closes the request and throws APIUserAbortError", async () => {
        const fake = streaming([chunk("a")], true);
        const controller = new AbortController();
        const texts: string[] = [];
        const error = await (async () => {
            for await (const c of client(fake.fetch).streamGenerate({ model: "m", prompt: "p" }, { signal: controller.signal })) {
                texts.push(c.text);
                setTimeout(() => controller.abort(), 5);
            }
        })().catch((e: unknown) => e);
        assert.ok(error instanceof APIUserAbortError, String(error));
        assert.deepEqual(texts, ["a"]);
        assert.equal(fake.request().signal.aborted, true);
        assert.equal(await fake.closed(), "abort");
    });

    it("stream.abort() does the same", async () => {
        const fake = streaming([chunk("a")], true);
        const stream = client(fake.fetch).streamGenerate({ model: "m", prompt: "p" });
        const error = await (async () => {
            for await (const _ of stream) setTimeout(() => stream.abort(), 5);
        })().catch((e: unknown) => e);
        assert.ok(error instanceof APIUserAbortError);
        assert.equal(fake.request().signal.aborted, true);
    });

    it("a finished stream leaves the signal alone", async () => {
        const fake = streaming(story);
        for await (const _ of client(fake.fetch).streamGenerate({ model: "m", prompt: "p" })) {
            // read everything
        }
        assert.equal(fake.request().signal.aborted, false);
    });

    it("throws APIConnectionError when the body ends before [DONE]", async () => {
        const fake = streaming([chunk("a")]);
        const error = await (async () => {
            for await (const _ of client(fake.fetch).streamGenerate({ model: "m", prompt: "p" })) {
                // read everything
            }
        })().catch((e: unknown) => e);
        assert.ok(error instanceof APIConnectionError);
    });

    it("fails with APITimeoutError when the body falls silent, and closes the request", async () => {
        const fake = streaming([chunk("a")], true);
        const c = new QuandexClient({ apiKey: "qdx_test", baseURL: "http://quandex.test/v1", fetch: fake.fetch, timeout: 50 });
        const texts: string[] = [];
        const error = await (async () => {
            for await (const got of c.streamGenerate({ model: "m", prompt: "p" })) texts.push(got.text);
        })().catch((e: unknown) => e);
        assert.ok(error instanceof APITimeoutError, String(error));
        assert.deepEqual(texts, ["a"]);
        assert.equal(fake.request().signal.aborted, true);
        assert.equal(fake.requests.length, 1, "a started stream is not re-sent");
    });

    it("can be read once; tee() gives two readers of every chunk", async () => {
        const once = client(streaming(story).fetch).streamGenerate({ model: "m", prompt: "p" });
        for await (const _ of once) {
            // read everything
        }
        assert.throws(() => once[Symbol.asyncIterator](), QuandexError);

        const fake = streaming(story);
        const [left, right] = client(fake.fetch).streamGenerate({ model: "m", prompt: "p" }).tee();
        const read = async (s: AsyncIterable<GenerateStreamChunk>) => {
            const texts: string[] = [];
            for await (const c of s) texts.push(c.text);
            return texts;
        };
        const [a, b] = await Promise.all([read(left), read(right)]);
        assert.deepEqual(a, ["Once", " upon", ""]);
        assert.deepEqual(b, a);
        assert.equal(fake.requests.length, 1);
    });

    it("tee(): the request closes only when both branches are left", async () => {
        const fake = streaming([chunk("a"), chunk("b")], true);
        const [left, right] = client(fake.fetch).streamGenerate({ model: "m", prompt: "p" }).tee();
        for await (const _ of left) break;
        assert.equal(fake.request().signal.aborted, false);
        for await (const _ of right) break;
        assert.equal(fake.request().signal.aborted, true);
    });

    it("toReadableStream() gives the wire chunks as NDJSON", async () => {
        const fake = streaming(story);
        const readable = client(fake.fetch).streamGenerate({ model: "m", prompt: "p" }).toReadableStream();
        const text = await new Response(readable).text();
        const lines = text
            .trimEnd()
            .split("\n")
            .map((line) => JSON.parse(line));
        assert.equal(lines.length, 3);
        assert.deepEqual(lines[2], { id: "gen_1", model: "m", choices: [{ text: "", finish_reason: "stop" }], usage, metal_stats: metalStats });
    });

    it("closes the TCP connection on a real server when the loop is left", async () => {
        let serverSawClose!: () => void;
        const closed = new Promise<void>((resolve) => (serverSawClose = resolve));
        const server = createServer((req: IncomingMessage, res: ServerResponse) => {
            res.writeHead(200, { "content-type": "text/event-stream" });
            res.write(chunk("first"));
            const timer = setInterval(() => res.write(": ping\n\n"), 10);
            res.on("close", () => {
                clearInterval(timer);
                serverSawClose();
            });
            req.resume();
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        try {
            const { port } = server.address() as AddressInfo;
            const c = new QuandexClient({ apiKey: "qdx_test", baseURL: `http://127.0.0.1:${port}/v1` });
            for await (const got of c.streamGenerate({ model: "m", prompt: "p" })) {
                assert.equal(got.text, "first");
                break;
            }
            let timer: ReturnType<typeof setTimeout> | undefined;
            const deadline = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("server never saw the close")), 2000)));
            await Promise.race([closed, deadline]).finally(() => clearTimeout(timer));
        } finally {
            server.closeAllConnections();
            await new Promise((resolve) => server.close(resolve));
        }
    });
});
