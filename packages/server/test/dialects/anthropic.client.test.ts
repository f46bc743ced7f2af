import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { LlamaServerEngine, NodeLlamaEngine, type Engine } from "@quandex/engine";
import { llamaServerForTests, requireTestModel } from "@quandex/test-support";
import { createHarness, type Harness } from "../support/harness.js";

/**
 * The official `@anthropic-ai/sdk` against Quandex's `/v1/messages`, on the real stories260K model
 * and both engines: plain and streamed messages (the same text at temperature 0), a forced tool
 * use whose input follows the tool's schema, a tool round trip, count_tokens, and each error status
 * as the SDK's own error class.
 */

const model = requireTestModel();
const { binaryPath, skipReason } = llamaServerForTests();
const engines: Array<[string, () => Promise<Engine>, string | undefined]> = [
    ["node-llama-cpp", () => NodeLlamaEngine.create({ gpu: "auto" }), undefined],
    ["llama-server", () => LlamaServerEngine.create({ binaryPath: binaryPath! }), skipReason]
];
// The SDK's types (1.17) no longer list the sampling fields newer Claude models ignore; the API still
// takes them, and Quandex honours them, so the tests pass them through a spread.
const greedy = { temperature: 0 };
const tooHot = { temperature: 3 };
const weather: Anthropic.Tool = {
    name: "get_weather",
    description: "The weather in a city now",
    input_schema: { type: "object", properties: { city: { type: "string", maxLength: 12 } }, required: ["city"], additionalProperties: false }
};

for (const [name, makeEngine, skip] of engines) {
    describe(`the official Anthropic SDK against /v1/messages (${name}, stories260K)`, { skip }, () => {
        let h: Harness;
        let client: Anthropic;
        const clientFor = (apiKey: string): Anthropic => new Anthropic({ baseURL: h.url, apiKey, maxRetries: 0 });
        before(async () => {
            h = await createHarness({ engine: await makeEngine(), files: { "stories260K.gguf": model }, defaults: { contextSize: 1024 }, daily: 1 });
            await h.listen();
            client = clientFor(h.keys.generate);
        });
        after(() => h.close());

        it("answers a message with Anthropic's shape and usage; a stream's text equals it at temperature 0", async () => {
            const params = { model: "stories260K", max_tokens: 24, temperature: 0, system: "Tell a story.", messages: [{ role: "user" as const, content: "Once upon a time" }] };
            const message = await client.messages.create(params);
            assert.match(message.id, /^msg_[0-9a-f]{24}$/);
            assert.equal(message.type, "message");
            assert.equal(message.role, "assistant");
            assert.equal(message.model, "stories260K");
            assert.equal(message.stop_reason, "max_tokens");
            assert.equal(message.content.length, 1);
            const block = message.content[0]!;
            assert.equal(block.type, "text");
            const text = (block as Anthropic.TextBlock).text;
            assert.ok(text.length > 0);
            assert.equal(message.usage.output_tokens, 24);
            assert.ok(message.usage.input_tokens + (message.usage.cache_read_input_tokens ?? 0) > 5);

            const stream = client.messages.stream(params);
            const types: string[] = [];
            stream.on("streamEvent", (event) => types.push(event.type));
            const final = await stream.finalMessage();
            assert.equal((final.content[0] as Anthropic.TextBlock).text, text);
            assert.equal(final.stop_reason, "max_tokens");
            assert.equal(final.usage.output_tokens, 24);
            assert.equal(types[0], "message_start");
            assert.equal(types.at(-1), "message_stop");
            assert.equal(types.at(-2), "message_delta");
            assert.ok(types.includes("content_block_start") && types.includes("content_block_delta") && types.includes("content_block_stop"), types.join(","));
        });

        it("a stop sequence from the request ends the turn as stop_sequence and names it", async () => {
            const free = await client.messages.create({ model: "stories260K", max_tokens: 40, ...greedy, messages: [{ role: "user", content: "Once upon a time" }] });
            const words = (free.content[0] as Anthropic.TextBlock).text.trim().split(/\s+/);
            const stop = words[3]!;
            const message = await client.messages.create({
                model: "stories260K",
                max_tokens: 40,
                ...greedy,
                stop_sequences: [stop],
                messages: [{ role: "user", content: "Once upon a time" }]
            });
            assert.equal(message.stop_reason, "stop_sequence");
            assert.equal(message.stop_sequence, stop);
        });

        it("forces a tool use whose input follows the schema, streamed as input_json_delta too; then a tool_result round trip answers in text", async () => {
            const forced = {
                model: "stories260K",
                max_tokens: 64,
                temperature: 0,
                tools: [weather],
                tool_choice: { type: "tool" as const, name: "get_weather" },
                messages: [{ role: "user" as const, content: "Weather in Oslo?" }]
            };
            const message = await client.messages.create(forced);
            assert.equal(message.stop_reason, "tool_use");
            const use = message.content.find((b) => b.type === "tool_use") as Anthropic.ToolUseBlock;
            assert.ok(use, JSON.stringify(message.content));
            assert.match(use.id, /^toolu_[0-9a-f]{24}$/);
            assert.equal(use.name, "get_weather");
            assert.deepEqual(Object.keys(use.input as object), ["city"]);

            const streamed = await client.messages.stream(forced).finalMessage();
            const streamedUse = streamed.content.find((b) => b.type === "tool_use") as Anthropic.ToolUseBlock;
            assert.deepEqual(streamedUse.input, use.input);
            assert.equal(streamed.stop_reason, "tool_use");

            const answer = await client.messages.create({
                model: "stories260K",
                max_tokens: 8,
                tools: [weather],
                messages: [
                    { role: "user", content: "Weather in Oslo?" },
                    { role: "assistant", content: [{ type: "tool_use", id: use.id, name: use.name, input: use.input }] },
                    { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "12 C and rain" }] }
                ]
            });
            assert.equal(answer.content[0]!.type, "text");
        });

        it("count_tokens gives the prompt tokens a message then reports", async () => {
            const params = { model: "stories260K", system: "Be brief.", messages: [{ role: "user" as const, content: "Hello there" }] };
            const counted = await client.messages.countTokens(params);
            const message = await client.messages.create({ ...params, max_tokens: 1 });
            assert.equal(counted.input_tokens, message.usage.input_tokens + (message.usage.cache_read_input_tokens ?? 0));
        });

        it("raises the SDK's error class for each status, with Anthropic's error body", async () => {
            const base = { model: "stories260K", max_tokens: 4, messages: [{ role: "user" as const, content: "hi" }] };
            const failure = (promise: Promise<unknown>) =>
                promise.then(
                    () => assert.fail("expected an error"),
                    (e: unknown) => e
                );
            const bad = await failure(client.messages.create({ ...base, ...tooHot }));
            assert.ok(bad instanceof Anthropic.BadRequestError, String(bad));
            assert.equal((bad.error as { type: string; error: { type: string } }).error.type, "invalid_request_error");
            const tool = await failure(client.messages.create({ ...base, messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_x", content: "?" }] }] }));
            assert.ok(tool instanceof Anthropic.BadRequestError);
            assert.equal((tool.error as { error: { param: string } }).error.param, "messages[0].content[0].tool_use_id");
            assert.ok((await failure(clientFor("qdx_not_a_key").messages.create(base))) instanceof Anthropic.AuthenticationError);
            assert.ok((await failure(clientFor(h.keys.read).messages.create(base))) instanceof Anthropic.PermissionDeniedError);
            assert.ok((await failure(client.messages.create({ ...base, model: "nope" }))) instanceof Anthropic.NotFoundError);
            const limited = clientFor(h.keys.limited);
            await limited.messages.create(base);
            const quota = await failure(limited.messages.create(base));
            assert.ok(quota instanceof Anthropic.RateLimitError, String(quota));
            assert.equal((quota.error as { error: { type: string } }).error.type, "rate_limit_error");
        });
    });
}
