import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Ollama } from "ollama";
import { LlamaServerEngine, NodeLlamaEngine, type Engine } from "@quandex/engine";
import { llamaServerForTests, requireTestModel } from "@quandex/test-support";
import { createHarness, type Harness } from "../support/harness.js";

/**
 * The official `ollama` npm client against Quandex's `/api/*`, on the real stories260K model and
 * both engines, plus a raw NDJSON stream read with fetch as curl would, Ollama's error shape, and
 * `auth: none` running keyless clients as the configured anonymous key.
 */

const model = requireTestModel();
const { binaryPath, skipReason } = llamaServerForTests();
const engines: Array<[string, () => Promise<Engine>, string | undefined]> = [
    ["node-llama-cpp", () => NodeLlamaEngine.create({ gpu: "auto" }), undefined],
    ["llama-server", () => LlamaServerEngine.create({ binaryPath: binaryPath! }), skipReason]
];

for (const [name, makeEngine, skip] of engines) {
    describe(`the official ollama client against /api/* (${name}, stories260K)`, { skip }, () => {
        let h: Harness;
        let ollama: Ollama;
        before(async () => {
            h = await createHarness({ engine: await makeEngine(), files: { "stories260K.gguf": model }, defaults: { contextSize: 1024 } });
            await h.listen();
            ollama = new Ollama({ host: h.url, headers: { Authorization: `Bearer ${h.keys.generate}` } });
        });
        after(() => h.close());

        it("generate answers with measured timings in ns; the NDJSON stream's text equals it at temperature 0", async () => {
            const options = { temperature: 0, num_predict: 20 };
            const answer = await ollama.generate({ model: "stories260K", prompt: "Once upon a time", options, stream: false });
            assert.equal(answer.model, "stories260K");
            assert.equal(answer.done, true);
            assert.equal(answer.done_reason, "length");
            assert.equal(answer.eval_count, 20);
            assert.ok(answer.prompt_eval_count > 3);
            assert.ok((answer.response ?? "").length > 0);
            for (const field of ["total_duration", "load_duration", "prompt_eval_duration", "eval_duration"] as const)
                assert.ok(Number.isInteger(answer[field]) && answer[field] >= 0, field);
            assert.ok(answer.eval_duration > 0 && answer.total_duration >= answer.eval_duration + answer.prompt_eval_duration);

            let text = "";
            let last;
            for await (const part of await ollama.generate({ model: "stories260K", prompt: "Once upon a time", options, stream: true })) {
                text += part.response;
                last = part;
            }
            assert.equal(text, answer.response);
            assert.equal(last!.done, true);
            assert.equal(last!.eval_count, 20);
        });

        it("chat answers, streamed and not, with the same text; format json is grammar-enforced", async () => {
            const messages = [
                { role: "system", content: "Tell a story." },
                { role: "user", content: "A cat" }
            ];
            const options = { temperature: 0, num_predict: 16 };
            const answer = await ollama.chat({ model: "stories260K", messages, options, stream: false });
            assert.equal(answer.message.role, "assistant");
            assert.equal(answer.done_reason, "length");
            let text = "";
            for await (const part of await ollama.chat({ model: "stories260K", messages, options, stream: true })) text += part.message.content;
            assert.equal(text, answer.message.content);

            const json = await ollama.chat({
                model: "stories260K",
                messages: [{ role: "user", content: "hi" }],
                format: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] },
                options: { temperature: 0, num_predict: 24 },
                stream: false
            });
            assert.ok(Number.isInteger((JSON.parse(json.message.content) as { n: number }).n), json.message.content);
        });

        it("a tool round trip in the history reaches the prompt", async () => {
            const tools = [
                {
                    type: "function",
                    function: { name: "get_weather", description: "Weather now", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }
                }
            ];
            const bare = await ollama.chat({ model: "stories260K", messages: [{ role: "user", content: "Weather in Oslo?" }], options: { num_predict: 1 }, stream: false });
            const round = await ollama.chat({
                model: "stories260K",
                messages: [
                    { role: "user", content: "Weather in Oslo?" },
                    { role: "assistant", content: "", tool_calls: [{ function: { name: "get_weather", arguments: { city: "Oslo" } } }] },
                    { role: "tool", content: "12 C", tool_name: "get_weather" }
                ],
                tools,
                options: { num_predict: 1 },
                stream: false
            });
            assert.ok(round.prompt_eval_count > bare.prompt_eval_count + 30, `${round.prompt_eval_count} vs ${bare.prompt_eval_count}`);
        });

        it("list, ps, show and embed answer in Ollama's shapes", async () => {
            const { models } = await ollama.list();
            assert.deepEqual(
                models.map((m) => m.name),
                ["stories260K"]
            );
            assert.equal(models[0]!.details.format, "gguf");
            assert.ok(models[0]!.size > 0);
            // Ollama's load call: an empty prompt starts the load and answers at once.
            const load = await ollama.generate({ model: "stories260K", prompt: "" });
            assert.equal(load.done_reason, "load");
            let ps = await ollama.ps();
            for (let i = 0; i < 300 && ps.models.length === 0; i++) {
                await new Promise((resolve) => setTimeout(resolve, 100));
                ps = await ollama.ps();
            }
            assert.equal(ps.models.length, 1);
            assert.ok(ps.models[0]!.size > 0);
            assert.ok(Date.parse(ps.models[0]!.expires_at as unknown as string) > Date.now());
            const show = await ollama.show({ model: "stories260K" });
            assert.ok(show.capabilities.includes("completion"));
            const { embeddings } = await ollama.embed({ model: "stories260K", input: ["a cat", "a dog"] });
            assert.equal(embeddings.length, 2);
            const norm = Math.hypot(...embeddings[0]!);
            assert.ok(Math.abs(norm - 1) < 1e-3, String(norm));
        });

        it("streams NDJSON by default to a plain HTTP client, and answers errors in Ollama's shape", async () => {
            const response = await fetch(`${h.url}/api/generate`, {
                method: "POST",
                headers: { authorization: `Bearer ${h.keys.generate}` },
                body: JSON.stringify({ model: "stories260K", prompt: "Once", options: { num_predict: 5, temperature: 0 } })
            });
            assert.equal(response.status, 200);
            assert.match(response.headers.get("content-type")!, /^application\/x-ndjson/);
            const lines = (await response.text())
                .trim()
                .split("\n")
                .map((l) => JSON.parse(l) as { done: boolean; eval_count?: number });
            assert.equal(lines.at(-1)!.done, true);
            assert.equal(lines.at(-1)!.eval_count, 5);
            assert.ok(lines.slice(0, -1).every((l) => !l.done));

            const missing = await fetch(`${h.url}/api/generate`, {
                method: "POST",
                headers: { authorization: `Bearer ${h.keys.generate}` },
                body: JSON.stringify({ model: "nope", prompt: "x" })
            });
            assert.equal(missing.status, 404);
            const body = (await missing.json()) as { error: string; code: string };
            assert.equal(typeof body.error, "string");
            assert.equal(body.code, "model_not_found");
            const unauthenticated = await fetch(`${h.url}/api/tags`);
            assert.equal(unauthenticated.status, 401);
            assert.equal(((await unauthenticated.json()) as { code: string }).code, "invalid_api_key");
            await assert.rejects(new Ollama({ host: h.url }).list(), /API key/);
            assert.equal((await fetch(h.url, { method: "HEAD" })).status, 200);
            const version = (await (await fetch(`${h.url}/api/version`)).json()) as { version: string };
            assert.match(version.version, /^\d+\.\d+\.\d+/);
        });
    });
}
