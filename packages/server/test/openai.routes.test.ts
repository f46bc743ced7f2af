import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FakeEngine } from "@quandex/engine/testing";
import { requireTestModel } from "@quandex/test-support";
import { auth, createHarness, parseSse, type Harness } from "./support/harness.js";

/**
 * The OpenAI dialect's translation, with the fake engine: what reaches the engine, the exact
 * response shapes, and every refusal. The official client against the real model is in
 * openai.client.test.ts.
 */

const model = requireTestModel();
const json = { "content-type": "application/json" };

interface InjectResult {
    statusCode: number;
    body: string;
    headers: Record<string, unknown>;
    json(): unknown;
}

function expectError(res: InjectResult, status: number, code: string, param: string | null, message?: RegExp): void {
    assert.equal(res.statusCode, status, res.body);
    const body = res.json() as { error: { code: string; message: string; type: string; param: string | null } };
    assert.equal(body.error.code, code);
    assert.equal(body.error.param, param);
    if (message) assert.match(body.error.message, message);
}

/** The fake engine's "tokens" are the prompt's characters after BOS. */
function promptText(engine: FakeEngine, nth = -1): string {
    const generation = engine.generations.at(nth)!;
    return String.fromCharCode(...generation.promptTokens.slice(1));
}

describe("OpenAI routes with the fake engine", () => {
    let h: Harness;
    let engine: FakeEngine;
    const post = (url: string, body: unknown, key: string = h.keys.generate) =>
        h.app.inject({ method: "POST", url, headers: { ...auth(key), ...json }, payload: JSON.stringify(body) }) as Promise<InjectResult>;
    const chat = (body: object, key?: string) => post("/v1/chat/completions", { model: "fake", ...body }, key);
    const complete = (body: object) => post("/v1/completions", { model: "fake", ...body });
    const embed = (body: object) => post("/v1/embeddings", { model: "fake", ...body });
    const user = [{ role: "user", content: "Hi" }];

    before(async () => {
        engine = new FakeEngine({ crashPaths: /crashy/ });
        h = await createHarness({ engine, files: { "fake.gguf": model, "crashy.gguf": model }, defaults: { contextSize: 128 } });
    });
    after(async () => {
        await h.close();
    });

    describe("POST /v1/chat/completions", () => {
        it("answers a chat.completion in OpenAI's exact shape, model named by its canonical id", async () => {
            const res = await chat({ messages: [{ role: "system", content: "Be brief." }, ...user], max_tokens: 3 });
            assert.equal(res.statusCode, 200, res.body);
            const body = res.json() as { id: string; created: number };
            assert.match(body.id, /^chatcmpl-[0-9a-f]{24}$/);
            assert.ok(Math.abs(body.created - Date.now() / 1000) < 5);
            assert.deepEqual(res.json(), {
                id: body.id,
                object: "chat.completion",
                created: body.created,
                model: "fake",
                choices: [{ index: 0, message: { role: "assistant", content: "tok0 tok1 tok2", refusal: null }, logprobs: null, finish_reason: "length" }],
                usage: { prompt_tokens: 38, completion_tokens: 3, total_tokens: 41, prompt_tokens_details: { cached_tokens: 0 } }
            });
        });

        it("renders the messages with the plain template (developer reads as system, text parts joined) and stops at its turn labels", async () => {
            const res = await chat({
                messages: [
                    { role: "developer", content: "Be brief." },
                    {
                        role: "user",
                        content: [
                            { type: "text", text: "Hello" },
                            { type: "text", text: "there" }
                        ]
                    },
                    { role: "assistant", content: "Hi!", name: "bot" },
                    { role: "user", content: "Tell me a story" }
                ],
                max_tokens: 2,
                stop: "END"
            });
            assert.equal(res.statusCode, 200, res.body);
            assert.equal(promptText(engine), "System: Be brief.\nUser: Hello\nthere\nAssistant: Hi!\nUser: Tell me a story\nAssistant:");
            assert.deepEqual(engine.generations.at(-1)!.sampling.stop, ["END", "\nUser:", "\nSystem:", "\nAssistant:"]);
        });

        it("maps the sampling fields onto the engine's; seeds of any size reduce to uint32", async () => {
            const res = await chat({
                messages: user,
                max_completion_tokens: 4,
                temperature: 0.5,
                top_p: 0.9,
                top_k: 7,
                seed: -1,
                presence_penalty: 0.5,
                frequency_penalty: 0.25,
                repeat_penalty: 1.1,
                n: 1,
                user: "u-1",
                logprobs: false,
                tools: [],
                tool_choice: "none",
                store: false,
                metadata: { a: "b" },
                logit_bias: {},
                stream_options: null
            });
            assert.equal(res.statusCode, 200, res.body);
            const { sampling } = engine.generations.at(-1)!;
            assert.deepEqual(
                { ...sampling, stop: undefined },
                {
                    temperature: 0.5,
                    topP: 0.9,
                    topK: 7,
                    seed: 4294967295,
                    repeatPenalty: 1.1,
                    presencePenalty: 0.5,
                    frequencyPenalty: 0.25,
                    ignoreEos: false,
                    maxTokens: 4,
                    stop: undefined
                }
            );
        });

        it("accepts null for every optional field, as OpenAI clients send it", async () => {
            const res = await chat({
                messages: user,
                max_tokens: null,
                max_completion_tokens: null,
                temperature: null,
                top_p: null,
                stop: null,
                seed: null,
                stream: null,
                n: null,
                response_format: null,
                logprobs: null,
                top_logprobs: null,
                tools: null,
                tool_choice: null,
                presence_penalty: null,
                frequency_penalty: null
            });
            assert.equal(res.statusCode, 200, res.body);
        });

        it("streams: a role delta first, content deltas, a finish chunk, the usage chunk, then [DONE]", async () => {
            const res = await chat({ messages: user, max_tokens: 2, stream: true, stream_options: { include_usage: true } });
            assert.equal(res.statusCode, 200);
            assert.match(String(res.headers["content-type"]), /^text\/event-stream/);
            const events = parseSse(res.body).filter((e) => !e.comment);
            assert.equal(events.at(-1)!.data, "[DONE]");
            const chunks = events.slice(0, -1).map((e) => e.data as { id: string; created: number; choices: unknown[]; usage: unknown });
            const { id, created } = chunks[0]!;
            const base = { id, object: "chat.completion.chunk", created, model: "fake" };
            assert.deepEqual(chunks, [
                { ...base, usage: null, choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }] },
                { ...base, usage: null, choices: [{ index: 0, delta: { content: "tok0" }, logprobs: null, finish_reason: null }] },
                { ...base, usage: null, choices: [{ index: 0, delta: { content: " tok1" }, logprobs: null, finish_reason: null }] },
                { ...base, usage: null, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "length" }] },
                { ...base, usage: { prompt_tokens: 20, completion_tokens: 2, total_tokens: 22, prompt_tokens_details: { cached_tokens: 0 } }, choices: [] }
            ]);
        });

        it("streams without usage fields unless include_usage is set", async () => {
            const res = await chat({ messages: user, max_tokens: 1, stream: true });
            const chunks = parseSse(res.body).filter((e) => !e.comment && e.data !== "[DONE]");
            assert.equal(chunks.length, 3);
            assert.ok(chunks.every((c) => !("usage" in (c.data as object))));
        });

        it("passes response_format to the engine as a grammar constraint", async () => {
            const schema = { type: "object", properties: { age: { type: "integer" } }, required: ["age"] };
            const res = await chat({ messages: user, response_format: { type: "json_schema", json_schema: { name: "person", schema, strict: true } } });
            assert.equal(res.statusCode, 200, res.body);
            assert.deepEqual(engine.generations.at(-1)!.sampling.constraint, { type: "json_schema", schema });
            assert.equal((res.json() as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content, "{}");
            await chat({ messages: user, response_format: { type: "json_object" } });
            assert.deepEqual(engine.generations.at(-1)!.sampling.constraint, { type: "json" });
            await chat({ messages: user, response_format: { type: "text" }, max_tokens: 1 });
            assert.equal(engine.generations.at(-1)!.sampling.constraint, undefined);
        });

        it("400 for n other than 1, log probabilities, bad tools, unanswerable tool messages, non-text parts and storage", async () => {
            expectError(await chat({ messages: user, n: 2 }), 400, "invalid_parameter", "n", /only n=1/);
            expectError(await chat({ messages: user, logprobs: true }), 400, "invalid_parameter", "logprobs");
            expectError(await chat({ messages: user, top_logprobs: 2 }), 400, "invalid_parameter", "top_logprobs");
            expectError(
                await chat({ messages: user, tools: [{ type: "function", function: { name: "f", parameters: { type: "banana" } } }] }),
                400,
                "invalid_parameter",
                "tools[0].function.parameters.type"
            );
            expectError(await chat({ messages: user, functions: [{ name: "f" }] }), 400, "invalid_parameter", "functions");
            expectError(await chat({ messages: user, tool_choice: "required" }), 400, "invalid_parameter", "tool_choice");
            expectError(await chat({ messages: user, logit_bias: { "42": 5 } }), 400, "invalid_parameter", "logit_bias");
            expectError(await chat({ messages: user, store: true }), 400, "invalid_parameter", "store");
            expectError(await chat({ messages: [...user, { role: "tool", content: "42", tool_call_id: "c1" }] }), 400, "invalid_parameter", "messages[1].tool_call_id");
            expectError(await chat({ messages: [{ role: "robot", content: "x" }] }), 400, "invalid_parameter", "messages[0].role");
            expectError(await chat({ messages: [{ role: "assistant", content: null, tool_calls: [{ id: "c" }] }] }), 400, "invalid_parameter", "messages.0.tool_calls.0.type");
            expectError(
                await chat({ messages: [{ role: "user", content: "x", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] }] }),
                400,
                "invalid_parameter",
                "messages[0].tool_calls"
            );
            expectError(
                await chat({ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "http://x" } }] }] }),
                400,
                "invalid_parameter",
                "messages[0].content[0]",
                /only text parts/
            );
        });

        it("400 for schema violations, naming the field", async () => {
            expectError(await chat({ messages: [] }), 400, "invalid_parameter", "messages");
            expectError(await chat({}), 400, "invalid_parameter", "messages");
            expectError(await chat({ messages: user, temperature: 3 }), 400, "invalid_parameter", "temperature");
            expectError(await chat({ messages: user, max_tokens: 0 }), 400, "invalid_parameter", "max_tokens");
            expectError(await chat({ messages: user, max_tokens: 5, max_completion_tokens: 6 }), 400, "invalid_parameter", "max_completion_tokens");
            expectError(await chat({ messages: user, mystery: 1 }), 400, "invalid_parameter", "mystery");
            expectError(await chat({ messages: user, stream_options: { include_usage: "yes" } }), 400, "invalid_parameter", "stream_options.include_usage");
            expectError(await chat({ messages: user, response_format: { type: "xml" } }), 400, "invalid_parameter", "response_format.type");
            expectError(await chat({ messages: user, response_format: { type: "json_schema" } }), 400, "invalid_parameter", "response_format.json_schema");
            expectError(
                await chat({ messages: user, response_format: { type: "json_schema", json_schema: { name: "x" } } }),
                400,
                "invalid_parameter",
                "response_format.json_schema.schema"
            );
        });

        it("400 for a JSON schema the grammar cannot enforce, naming the keyword", async () => {
            const refused = async (schema: object, message: RegExp) =>
                expectError(
                    await chat({ messages: user, response_format: { type: "json_schema", json_schema: { name: "x", schema } } }),
                    400,
                    "invalid_parameter",
                    "response_format",
                    message
                );
            await refused({ type: "object", properties: { a: { type: "string", pattern: "^a" } } }, /schema\.properties\.a\.pattern/);
            await refused({ type: "object", properties: { n: { type: "integer", minimum: 0 } } }, /'minimum' cannot be enforced/);
            await refused({ allOf: [{ type: "object" }] }, /'allOf' cannot be enforced/);
            await refused({ type: "object", properties: {}, required: ["a"] }, /'a' is required but not listed/);
            await refused({ $ref: "#/definitions/x" }, /\$defs/);
            await refused({ type: "string", format: "email" }, /format/);
        });

        it("404 for an unknown model, 403 for a read-only key, 400 context_length_exceeded", async () => {
            expectError(await chat({ model: "nope", messages: user }), 404, "model_not_found", "model");
            expectError(await chat({ messages: user }, h.keys.read), 403, "insufficient_scope", null);
            expectError(await chat({ messages: user, max_tokens: 120 }), 400, "context_length_exceeded", "max_tokens");
        });

        it("500 when the engine fails before the answer; an in-band error event after the headers", async () => {
            const res = await chat({ model: "crashy", messages: user });
            expectError(res, 500, "internal_error", null);
            assert.doesNotMatch(res.body, /fake engine failure/);
            const streamed = await chat({ model: "crashy", messages: user, stream: true });
            assert.equal(streamed.statusCode, 200);
            const events = parseSse(streamed.body);
            assert.equal(events.at(-1)!.event, "error");
            assert.equal((events.at(-1)!.data as { error: { code: string } }).error.code, "internal_error");
            assert.ok(!events.some((e) => e.data === "[DONE]"));
        });
    });

    describe("POST /v1/completions", () => {
        it("runs one generation per prompt, each choice indexed by its prompt, usage summed and accounted once", async () => {
            const usageBefore = await usage();
            const res = await complete({ prompt: ["a", "bb"], max_tokens: 2 });
            assert.equal(res.statusCode, 200, res.body);
            const body = res.json() as { id: string; created: number };
            assert.match(body.id, /^cmpl-[0-9a-f]{24}$/);
            assert.deepEqual(res.json(), {
                id: body.id,
                object: "text_completion",
                created: body.created,
                model: "fake",
                choices: [
                    { text: "tok0 tok1", index: 0, logprobs: null, finish_reason: "length" },
                    { text: "tok0 tok1", index: 1, logprobs: null, finish_reason: "length" }
                ],
                usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9, prompt_tokens_details: { cached_tokens: 0 } }
            });
            assert.deepEqual(
                engine.generations
                    .slice(-2)
                    .map((g) => String.fromCharCode(...g.promptTokens.slice(1)))
                    .sort(),
                ["a", "bb"]
            );
            const usageAfter = await usage();
            assert.equal(usageAfter.requests - usageBefore.requests, 1, "one request, however many prompts");
            assert.equal(usageAfter.total_tokens - usageBefore.total_tokens, 9);
        });

        it("defaults max_tokens to 16 as OpenAI does, and echo puts the prompt in front", async () => {
            engine.eosAfter = 100;
            try {
                const res = await complete({ prompt: "Say:", echo: true });
                const choice = (res.json() as { choices: Array<{ text: string }> }).choices[0]!;
                assert.equal(engine.generations.at(-1)!.sampling.maxTokens, 16);
                assert.ok(choice.text.startsWith("Say:tok0 tok1"), choice.text);
            } finally {
                engine.eosAfter = 8;
            }
        });

        it("streams every choice with its index, the echo first, then the usage chunk and [DONE]", async () => {
            const res = await complete({ prompt: ["a", "bb"], max_tokens: 1, echo: true, stream: true, stream_options: { include_usage: true } });
            const events = parseSse(res.body).filter((e) => !e.comment);
            assert.equal(events.at(-1)!.data, "[DONE]");
            const chunks = events
                .slice(0, -1)
                .map((e) => e.data as { object: string; usage: unknown; choices: Array<{ index: number; text: string; finish_reason: string | null }> });
            assert.ok(chunks.every((c) => c.object === "text_completion"));
            for (const index of [0, 1]) {
                const mine = chunks.flatMap((c) => c.choices).filter((c) => c.index === index);
                assert.deepEqual(
                    mine.map((c) => [c.text, c.finish_reason]),
                    [
                        [["a", "bb"][index], null],
                        ["tok0", null],
                        ["", "length"]
                    ]
                );
            }
            assert.deepEqual(chunks.at(-1)!.choices, []);
            assert.deepEqual(chunks.at(-1)!.usage, { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7, prompt_tokens_details: { cached_tokens: 0 } });
        });

        it("400 for token prompts, suffix, best_of, logprobs and n", async () => {
            expectError(await complete({ prompt: [1, 2, 3] }), 400, "invalid_parameter", "prompt[0]", /token-id prompts/);
            expectError(await complete({ prompt: [[1, 2]] }), 400, "invalid_parameter", "prompt[0]");
            expectError(await complete({ prompt: "x", suffix: "y" }), 400, "invalid_parameter", "suffix");
            expectError(await complete({ prompt: "x", best_of: 2 }), 400, "invalid_parameter", "best_of");
            expectError(await complete({ prompt: "x", logprobs: 1 }), 400, "invalid_parameter", "logprobs");
            expectError(await complete({ prompt: "x", n: 3 }), 400, "invalid_parameter", "n");
            expectError(await complete({ prompt: [] }), 400, "invalid_parameter", "prompt");
            expectError(await complete({ prompt: Array(17).fill("x") }), 400, "invalid_parameter", "prompt");
            assert.equal((await complete({ prompt: "x", suffix: null, best_of: 1, logprobs: null, echo: false, max_tokens: 1 })).statusCode, 200);
        });
    });

    describe("POST /v1/embeddings", () => {
        it("answers OpenAI's list of embeddings with usage.prompt_tokens", async () => {
            const res = await embed({ input: ["a", "bb"] });
            assert.equal(res.statusCode, 200, res.body);
            const body = res.json() as { data: Array<{ embedding: number[] }> };
            assert.deepEqual(engine.embeddings.at(-1), ["a", "bb"]);
            assert.deepEqual(res.json(), {
                object: "list",
                data: [
                    { object: "embedding", index: 0, embedding: body.data[0]!.embedding },
                    { object: "embedding", index: 1, embedding: body.data[1]!.embedding }
                ],
                model: "fake",
                usage: { prompt_tokens: 5, total_tokens: 5 }
            });
            for (const { embedding } of body.data) {
                assert.equal(embedding.length, 8);
                assert.ok(Math.abs(Math.hypot(...embedding) - 1) < 1e-9, "unit length");
            }
        });

        it("encodes base64 as little-endian float32, equal to the float answer", async () => {
            const floats = ((await embed({ input: "hello" })).json() as { data: Array<{ embedding: number[] }> }).data[0]!.embedding;
            const encoded = ((await embed({ input: "hello", encoding_format: "base64" })).json() as { data: Array<{ embedding: string }> }).data[0]!.embedding;
            const bytes = Buffer.from(encoded, "base64");
            const decoded = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
            assert.deepEqual(
                decoded,
                floats.map((x) => Math.fround(x))
            );
        });

        it("400 for token inputs, empty inputs, dimensions and too many inputs; context_length_exceeded for a long one", async () => {
            expectError(await embed({ input: [1, 2] }), 400, "invalid_parameter", "input[0]", /token-id inputs/);
            expectError(await embed({ input: "" }), 400, "invalid_parameter", "input");
            expectError(await embed({ input: ["a", ""] }), 400, "invalid_parameter", "input[1]");
            expectError(await embed({ input: "a", dimensions: 8 }), 400, "invalid_parameter", "dimensions");
            expectError(await embed({ input: Array(257).fill("a") }), 400, "invalid_parameter", "input");
            expectError(await embed({ input: ["a", "x".repeat(200)] }), 400, "context_length_exceeded", "input", /Input 1 has 201 tokens/);
            expectError(await post("/v1/embeddings", { model: "fake", input: "a" }, h.keys.read), 403, "insufficient_scope", null);
        });
    });

    it("GET /v1/models/{id} is OpenAI's model object plus Quandex's fields", async () => {
        const res = await h.app.inject({ method: "GET", url: "/v1/models/fake", headers: auth(h.keys.read) });
        const body = res.json() as Record<string, unknown>;
        assert.equal(body.object, "model");
        assert.equal(body.owned_by, "quandex");
        assert.equal(typeof body.created, "number");
        assert.equal(body.status, "ready");
    });

    it("every OpenAI route is in the OpenAPI document with a response schema", async () => {
        const doc = (await h.app.inject({ method: "GET", url: "/v1/openapi.json", headers: auth(h.keys.read) })).json() as {
            paths: Record<string, { post?: { responses: Record<string, unknown> } }>;
        };
        for (const path of ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]) assert.ok(doc.paths[path]?.post?.responses["200"], path);
        assert.deepEqual(
            h.app.registeredRoutes.filter((r) => r.url.startsWith("/v1/") && !r.hasSchema),
            []
        );
    });

    async function usage(): Promise<{ requests: number; total_tokens: number }> {
        const res = await h.app.inject({ method: "GET", url: "/v1/usage", headers: auth(h.keys.generate) });
        return (res.json() as { data: Array<{ requests: number; total_tokens: number }> }).data[0]!;
    }
});
