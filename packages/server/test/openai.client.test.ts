import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import OpenAI from "openai";
import { NodeLlamaEngine } from "@quandex/engine";
import { FakeEngine } from "@quandex/engine/testing";
import { goldenText, requireTestModel } from "@quandex/test-support";
import { auth, createHarness, type Harness } from "./support/harness.js";

/**
 * The official `openai` npm client (v5) against a live server running the real node-llama-cpp
 * engine on stories260K. Assertions are about shape, determinism and accounting; the model is too
 * small for its words to mean much.
 */

const modelPath = requireTestModel();
const MODEL = "stories260K";

const personSchema = {
    type: "object",
    properties: {
        name: { type: "string", maxLength: 16 },
        age: { type: "integer" },
        color: { type: "string", enum: ["red", "green", "blue"] }
    },
    required: ["name", "age", "color"],
    additionalProperties: false
} as const;

/** A hand-written check of `personSchema`: exactly its keys, an integer age, a listed color. */
function assertPerson(text: string): void {
    const value = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(value).sort(), ["age", "color", "name"], text);
    assert.equal(typeof value.name, "string");
    assert.ok((value.name as string).length <= 16, text);
    assert.ok(Number.isInteger(value.age), text);
    assert.ok(["red", "green", "blue"].includes(value.color as string), text);
}

describe("the official openai client against Quandex (node-llama-cpp, stories260K)", () => {
    let h: Harness;
    let client: OpenAI;
    const clientFor = (apiKey: string): OpenAI => new OpenAI({ baseURL: `${h.url}/v1`, apiKey, maxRetries: 0 });
    const stats = async () =>
        (await (await fetch(`${h.url}/v1/stats`, { headers: auth(h.keys.read) })).json()) as {
            server: { active_sequences: number };
            models: Record<string, { completion_tokens_total: number; requests_total: number }>;
        };

    before(async () => {
        h = await createHarness({
            engine: await NodeLlamaEngine.create({ gpu: "auto" }),
            configured: [{ id: MODEL, path: modelPath, aliases: ["tiny"], options: {}, preload: false }],
            defaults: { contextSize: 512 }
        });
        await h.listen();
        client = clientFor(h.keys.generate);
    });
    after(async () => {
        await h.close();
    });

    describe("models", () => {
        it("models.list returns OpenAI model objects, aliases as their own entries, created = file mtime", async () => {
            const models = [];
            for await (const m of client.models.list()) models.push(m);
            const created = Math.floor(statSync(modelPath).mtimeMs / 1000);
            assert.deepEqual(
                models.map((m) => ({ ...m })),
                [
                    { id: MODEL, object: "model", created, owned_by: "quandex" },
                    { id: "tiny", object: "model", created, owned_by: "quandex" }
                ]
            );
        });

        it("models.retrieve returns the OpenAI fields plus Quandex's, by id or alias", async () => {
            const model = (await client.models.retrieve("tiny")) as OpenAI.Models.Model & { status: string; aliases: string[]; context_size: number };
            assert.equal(model.id, MODEL);
            assert.equal(model.object, "model");
            assert.equal(model.owned_by, "quandex");
            assert.equal(model.created, Math.floor(statSync(modelPath).mtimeMs / 1000));
            assert.deepEqual(model.aliases, ["tiny"]);
            assert.equal(model.context_size, 512);
            assert.ok(["ready", "unloaded", "loading"].includes(model.status));
        });
    });

    describe("chat.completions", () => {
        const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
            { role: "system", content: "You tell stories." },
            { role: "user", content: "Tell me a story about a cat." }
        ];

        it("create answers a chat.completion with consistent usage", async () => {
            const completion = await client.chat.completions.create({ model: "tiny", messages, temperature: 0, max_tokens: 24 });
            assert.match(completion.id, /^chatcmpl-[0-9a-f]{24}$/);
            assert.equal(completion.object, "chat.completion");
            assert.equal(completion.model, MODEL, "the canonical id, as OpenAI names the resolved model");
            assert.ok(Math.abs(completion.created - Date.now() / 1000) < 30);
            assert.equal(completion.choices.length, 1);
            const [choice] = completion.choices;
            assert.equal(choice!.index, 0);
            assert.equal(choice!.message.role, "assistant");
            assert.ok(choice!.message.content && choice!.message.content.length > 0);
            assert.equal(choice!.message.content, choice!.message.content.trimStart());
            assert.ok(["stop", "length"].includes(choice!.finish_reason));
            assert.ok(completion.usage!.prompt_tokens > 10, "the template wraps the messages");
            assert.ok(completion.usage!.completion_tokens <= 24);
            assert.equal(completion.usage!.total_tokens, completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
        });

        it("stream yields the role first, then content equal to the non-streamed answer, then the usage chunk", async () => {
            const request = { model: MODEL, messages, temperature: 0, max_tokens: 30 };
            const whole = await client.chat.completions.create(request);
            const stream = await client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
            const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
            for await (const chunk of stream) chunks.push(chunk);
            assert.ok(chunks.length > 3, "token by token, not one blob");
            assert.deepEqual(chunks[0]!.choices[0]!.delta, { role: "assistant", content: "" });
            assert.ok(chunks.every((c) => c.id === chunks[0]!.id && c.object === "chat.completion.chunk" && c.model === MODEL));
            const usageChunk = chunks.at(-1)!;
            assert.deepEqual(usageChunk.choices, []);
            assert.deepEqual(usageChunk.usage, whole.usage);
            assert.ok(chunks.slice(0, -1).every((c) => c.usage === null));
            const content = chunks.flatMap((c) => c.choices.map((choice) => choice.delta.content ?? "")).join("");
            assert.equal(content, whole.choices[0]!.message.content);
            const finish = chunks.at(-2)!.choices[0]!;
            assert.equal(finish.finish_reason, whole.choices[0]!.finish_reason);
            assert.deepEqual(finish.delta, {});
        });

        it("stream without include_usage sends no usage", async () => {
            const stream = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 5, stream: true });
            const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
            for await (const chunk of stream) chunks.push(chunk);
            assert.ok(chunks.every((c) => c.usage === undefined));
            assert.ok(chunks.at(-1)!.choices[0]!.finish_reason !== null);
        });

        it("response_format json_schema: the content always parses and matches the schema (required keys, integer, enum)", async () => {
            const responseFormat = { type: "json_schema", json_schema: { name: "person", schema: personSchema, strict: true } } as const;
            const ask = [{ role: "user", content: "Describe a girl as JSON." }] as const;
            for (const [temperature, seed] of [
                [0, 1],
                [1, 1],
                [1, 2],
                [1, 3],
                [1.5, 4]
            ] as const) {
                const completion = await client.chat.completions.create({ model: MODEL, messages: [...ask], response_format: responseFormat, temperature, seed, max_tokens: 200 });
                assert.equal(completion.choices[0]!.finish_reason, "stop", completion.choices[0]!.message.content ?? "");
                assertPerson(completion.choices[0]!.message.content!);
            }
            const stream = await client.chat.completions.create({ model: MODEL, messages: [...ask], response_format: responseFormat, seed: 5, max_tokens: 200, stream: true });
            let streamed = "";
            for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? "";
            assertPerson(streamed);
        });

        it("response_format json_object: output is JSON from its first character, and parses whenever it was not cut by max_tokens", async () => {
            for (const seed of [1, 2]) {
                const completion = await client.chat.completions.create({
                    model: MODEL,
                    messages: [{ role: "user", content: "Answer in JSON." }],
                    response_format: { type: "json_object" },
                    seed,
                    max_tokens: 120
                });
                const { content } = completion.choices[0]!.message;
                assert.ok(content!.startsWith("{"), content!);
                if (completion.choices[0]!.finish_reason === "stop") assert.equal(typeof JSON.parse(content!), "object");
            }
        });

        it("the same seed gives the same answer for requests run alone", async () => {
            const request = { model: MODEL, messages, temperature: 1, seed: 1234, max_tokens: 40 };
            const a = await client.chat.completions.create(request);
            const b = await client.chat.completions.create(request);
            assert.equal(a.choices[0]!.message.content, b.choices[0]!.message.content);
        });

        it("stop ends the answer before the stop string", async () => {
            const full = (await client.chat.completions.create({ model: MODEL, messages, temperature: 0, max_tokens: 40 })).choices[0]!.message.content!;
            const words = full.split(/\s+/).filter((w) => /^[A-Za-z]{3,}$/.test(w));
            const stop = words[Math.floor(words.length / 2)]!;
            const cut = await client.chat.completions.create({ model: MODEL, messages, temperature: 0, max_tokens: 40, stop: [stop, "zzzz"] });
            assert.equal(cut.choices[0]!.finish_reason, "stop");
            assert.equal(cut.choices[0]!.message.content, full.slice(0, full.indexOf(stop)).trimStart());
        });
    });

    describe("completions", () => {
        it("create continues the prompt exactly as /v1/generate does (the greedy reference text)", async () => {
            const completion = await client.completions.create({ model: MODEL, prompt: "Once upon a time", temperature: 0, max_tokens: 30 });
            assert.match(completion.id, /^cmpl-[0-9a-f]{24}$/);
            assert.equal(completion.object, "text_completion");
            assert.equal(completion.choices[0]!.finish_reason, "length");
            assert.ok(goldenText.startsWith(completion.choices[0]!.text), completion.choices[0]!.text);
            assert.equal(completion.usage!.completion_tokens, 30);
        });

        it("a list of prompts gives one choice per prompt, in prompt order", async () => {
            const single = await client.completions.create({ model: MODEL, prompt: "Once upon a time", temperature: 0, max_tokens: 12 });
            const many = await client.completions.create({ model: MODEL, prompt: ["Once upon a time", "The cat"], temperature: 0, max_tokens: 12 });
            assert.deepEqual(
                many.choices.map((c) => c.index),
                [0, 1]
            );
            assert.equal(many.choices[0]!.text, single.choices[0]!.text);
            assert.equal(many.usage!.completion_tokens, 24);
        });

        it("stream concatenates to the non-streamed text, with the usage chunk last", async () => {
            const request = { model: MODEL, prompt: "Once upon a time", temperature: 0, max_tokens: 25 };
            const whole = await client.completions.create(request);
            const stream = await client.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
            const chunks: OpenAI.Completions.Completion[] = [];
            for await (const chunk of stream) chunks.push(chunk);
            assert.equal(chunks.flatMap((c) => c.choices.map((choice) => choice.text)).join(""), whole.choices[0]!.text);
            assert.deepEqual(chunks.at(-1)!.usage, whole.usage);
            assert.equal(chunks.at(-2)!.choices[0]!.finish_reason, "length");
        });

        it("echo puts the prompt in front of the completion", async () => {
            const completion = await client.completions.create({ model: MODEL, prompt: "Once upon a time", temperature: 0, max_tokens: 8, echo: true });
            assert.ok(completion.choices[0]!.text.startsWith(`Once upon a time${goldenText.slice(0, 10)}`), completion.choices[0]!.text);
        });
    });

    describe("embeddings", () => {
        it("create returns unit-length vectors of the model's size (base64 by default in the Node client) and prompt_tokens", async () => {
            const input = ["The cat sat on the mat.", "A kitten was sitting on the rug."];
            const viaBase64 = await client.embeddings.create({ model: MODEL, input });
            const viaFloat = await client.embeddings.create({ model: MODEL, input, encoding_format: "float" });
            assert.equal(viaBase64.object, "list");
            assert.equal(viaBase64.model, MODEL);
            assert.deepEqual(
                viaBase64.data.map((d) => [d.object, d.index, d.embedding.length]),
                [
                    ["embedding", 0, 64],
                    ["embedding", 1, 64]
                ]
            );
            for (const [i, { embedding }] of viaFloat.data.entries()) {
                assert.ok(Math.abs(Math.hypot(...embedding) - 1) < 1e-6);
                embedding.forEach((x, j) => assert.ok(Math.abs(x - viaBase64.data[i]!.embedding[j]!) < 1e-6));
            }
            assert.ok(viaFloat.usage.prompt_tokens >= 10);
            assert.equal(viaFloat.usage.total_tokens, viaFloat.usage.prompt_tokens);
            const again = await client.embeddings.create({ model: MODEL, input: input[0]!, encoding_format: "float" });
            assert.deepEqual(again.data[0]!.embedding, viaFloat.data[0]!.embedding, "deterministic");
        });
    });

    describe("errors raise the client's own classes", () => {
        const ask = { model: MODEL, messages: [{ role: "user" as const, content: "Hi" }], max_tokens: 2 };

        it("401 AuthenticationError for a bad key", async () => {
            await assert.rejects(clientFor("qdx_not-a-real-key").chat.completions.create(ask), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
        });

        it("403 PermissionDeniedError for a read-only key", async () => {
            await assert.rejects(
                clientFor(h.keys.read).chat.completions.create(ask),
                (e) => e instanceof OpenAI.PermissionDeniedError && (e.error as { code: string }).code === "insufficient_scope"
            );
            await assert.rejects(clientFor(h.keys.read).embeddings.create({ model: MODEL, input: "x" }), OpenAI.PermissionDeniedError);
        });

        it("404 NotFoundError for an unknown model", async () => {
            await assert.rejects(client.chat.completions.create({ ...ask, model: "nope" }), (e) => e instanceof OpenAI.NotFoundError && e.param === "model");
            await assert.rejects(client.models.retrieve("nope"), OpenAI.NotFoundError);
            await assert.rejects(client.embeddings.create({ model: "nope", input: "x" }), OpenAI.NotFoundError);
        });

        it("400 BadRequestError for a bad parameter and for n=2, naming the field", async () => {
            await assert.rejects(client.chat.completions.create({ ...ask, temperature: 5 }), (e) => e instanceof OpenAI.BadRequestError && e.param === "temperature");
            await assert.rejects(client.chat.completions.create({ ...ask, n: 2 }), (e) => e instanceof OpenAI.BadRequestError && e.param === "n" && /only n=1/.test(e.message));
            await assert.rejects(client.completions.create({ model: MODEL, prompt: [1, 2, 3] }), (e) => e instanceof OpenAI.BadRequestError && e.code === "invalid_parameter");
        });

        it("429 RateLimitError once a limited key's burst is spent", async () => {
            const limited = clientFor(h.keys.limited);
            const { response } = await limited.models.list().withResponse();
            const limit = response.headers.get("x-ratelimit-limit");
            assert.match(limit ?? "", /^\d+$/, "a limited key's responses carry x-ratelimit-limit");
            let error: unknown;
            for (let i = 0; i < Number(limit) + 5 && error === undefined; i++) {
                await limited.chat.completions.create(ask).catch((e: unknown) => {
                    error = e;
                });
            }
            assert.ok(error instanceof OpenAI.RateLimitError, String(error));
            assert.equal((error.error as { code: string }).code, "rate_limit_exceeded");
            assert.ok(Number(error.headers?.get("retry-after")) >= 1);
        });

        it("500 InternalServerError when the model crashes mid-generation; an APIError mid-stream", async () => {
            const fake = await createHarness({ engine: new FakeEngine({ crashPaths: /crashy/ }), files: { "crashy.gguf": modelPath } });
            try {
                const crashy = new OpenAI({ baseURL: `${await fake.listen()}/v1`, apiKey: fake.keys.generate, maxRetries: 0 });
                await assert.rejects(
                    crashy.chat.completions.create({ ...ask, model: "crashy", max_tokens: 10 }),
                    (e) => e instanceof OpenAI.InternalServerError && e.status === 500 && (e.error as { code: string }).code === "internal_error"
                );
                const stream = await crashy.chat.completions.create({ ...ask, model: "crashy", max_tokens: 10, stream: true });
                await assert.rejects(
                    async () => {
                        for await (const _ of stream) {
                            // the error arrives as an in-band event after two tokens
                        }
                    },
                    (e) => e instanceof OpenAI.APIError && (e.error as { code: string }).code === "internal_error"
                );
            } finally {
                await fake.close();
            }
        });
    });

    it("aborting a stream through the client's AbortController frees the sequence", async () => {
        const before = (await stats()).models[MODEL]!.completion_tokens_total;
        const stream = await client.completions.create({ model: MODEL, prompt: "Once upon a time", max_tokens: 480, stream: true });
        let received = 0;
        for await (const _ of stream) {
            // The client's own AbortController; the iteration then ends quietly.
            if (++received === 3) stream.controller.abort();
        }
        assert.ok(received >= 3 && received < 100, `stopped after ${received} chunks`);
        let active = -1;
        for (let i = 0; i < 200; i++) {
            active = (await stats()).server.active_sequences;
            if (active === 0) break;
            await sleep(10);
        }
        assert.equal(active, 0, "the sequence went back to the pool");
        assert.equal((await stats()).models[MODEL]!.completion_tokens_total, before, "an aborted generation completes no tokens");
        const after = await client.completions.create({ model: MODEL, prompt: "Once upon a time", temperature: 0, max_tokens: 5 });
        assert.equal(after.choices[0]!.finish_reason, "length", "the server keeps serving");
    });
});
