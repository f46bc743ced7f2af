import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { LlamaServerEngine, NodeLlamaEngine, type Engine } from "@quandex/engine";
import { llamaServerForTests, requireTestModel } from "@quandex/test-support";
import { createHarness, type Harness } from "../support/harness.js";

/**
 * Tool calling through the official `openai` client on the real stories260K model, on both
 * engines. The model knows nothing of tools, so a call is asked for with `tool_choice` (a grammar
 * then makes the reply one call of an offered tool, whose arguments match its schema); `auto`
 * leaves the choice to the model, which here writes a story.
 */

const model = requireTestModel();
const { binaryPath, skipReason } = llamaServerForTests();
const weather: OpenAI.Chat.ChatCompletionTool = {
    type: "function",
    function: {
        name: "get_weather",
        description: "The weather in a city now",
        parameters: {
            type: "object",
            properties: { city: { type: "string", maxLength: 12 }, unit: { type: "string", enum: ["C", "F"] } },
            required: ["city", "unit"],
            additionalProperties: false
        }
    }
};
const time: OpenAI.Chat.ChatCompletionTool = { type: "function", function: { name: "get_time", parameters: { type: "object", properties: {}, additionalProperties: false } } };

const engines: Array<[string, () => Promise<Engine>, string | undefined]> = [
    ["node-llama-cpp", () => NodeLlamaEngine.create({ gpu: "auto" }), undefined],
    ["llama-server", () => LlamaServerEngine.create({ binaryPath: binaryPath! }), skipReason]
];

for (const [name, makeEngine, skip] of engines) {
    describe(`tool calling through the openai client (${name}, stories260K)`, { skip }, () => {
        let h: Harness;
        let client: OpenAI;
        before(async () => {
            h = await createHarness({ engine: await makeEngine(), files: { "stories260K.gguf": model }, defaults: { contextSize: 1024 } });
            await h.listen();
            client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: h.keys.generate, maxRetries: 0 });
        });
        after(() => h.close());

        it("a named tool_choice answers one call whose arguments follow the tool's schema, finish_reason tool_calls", async () => {
            const completion = await client.chat.completions.create({
                model: "stories260K",
                messages: [{ role: "user", content: "What is the weather in Oslo?" }],
                tools: [weather, time],
                tool_choice: { type: "function", function: { name: "get_weather" } },
                temperature: 0,
                max_tokens: 96
            });
            const choice = completion.choices[0]!;
            assert.equal(choice.finish_reason, "tool_calls");
            assert.equal(choice.message.content, null);
            const calls = choice.message.tool_calls ?? [];
            assert.equal(calls.length, 1);
            const call = calls[0]! as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
            assert.equal(call.type, "function");
            assert.match(call.id, /^call_[0-9a-f]{24}$/);
            assert.equal(call.function.name, "get_weather");
            const args = JSON.parse(call.function.arguments) as Record<string, unknown>;
            assert.deepEqual(Object.keys(args).sort(), ["city", "unit"]);
            assert.ok(["C", "F"].includes(args.unit as string));
            assert.ok(completion.usage!.completion_tokens > 0);
        });

        it("streams the call as a tool_calls delta the client's accumulator reads, then finish_reason tool_calls", async () => {
            const stream = client.chat.completions.stream({
                model: "stories260K",
                messages: [{ role: "user", content: "What time is it?" }],
                tools: [weather, time],
                tool_choice: "required",
                temperature: 0,
                max_tokens: 96
            });
            const final = await stream.finalChatCompletion();
            const choice = final.choices[0]!;
            assert.equal(choice.finish_reason, "tool_calls");
            const call = choice.message.tool_calls![0]! as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
            assert.ok(["get_weather", "get_time"].includes(call.function.name));
            JSON.parse(call.function.arguments);
        });

        it("takes a whole tool round trip in the history (assistant tool_calls, then the tool's answer) and answers in text", async () => {
            const completion = await client.chat.completions.create({
                model: "stories260K",
                messages: [
                    { role: "user", content: "What is the weather in Oslo?" },
                    {
                        role: "assistant",
                        content: null,
                        tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo","unit":"C"}' } }]
                    },
                    { role: "tool", tool_call_id: "call_1", content: "12 degrees and rain" }
                ],
                tools: [weather],
                temperature: 0,
                max_tokens: 16
            });
            const choice = completion.choices[0]!;
            assert.equal(choice.finish_reason, "length");
            assert.equal(typeof choice.message.content, "string");
            assert.equal(choice.message.tool_calls, undefined);
            // The tools and the round trip reached the prompt: it is longer than the bare question's.
            const bare = await client.chat.completions.create({
                model: "stories260K",
                messages: [{ role: "user", content: "What is the weather in Oslo?" }],
                temperature: 0,
                max_tokens: 1
            });
            assert.ok(completion.usage!.prompt_tokens > bare.usage!.prompt_tokens + 40, `${completion.usage!.prompt_tokens} vs ${bare.usage!.prompt_tokens}`);
        });

        it("tool_choice none hides the tools: the prompt is the bare conversation's", async () => {
            const bare = await client.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "Hi" }], temperature: 0, max_tokens: 4 });
            const none = await client.chat.completions.create({
                model: "stories260K",
                messages: [{ role: "user", content: "Hi" }],
                tools: [weather],
                tool_choice: "none",
                temperature: 0,
                max_tokens: 4
            });
            assert.equal(none.usage!.prompt_tokens, bare.usage!.prompt_tokens);
            assert.equal(none.choices[0]!.message.content, bare.choices[0]!.message.content);
        });

        it("refuses a named tool that was not sent, a tool message without its call id, and a forced call with response_format, each with a 400 naming the field", async () => {
            const cases: Array<[Record<string, unknown>, string]> = [
                [{ tools: [weather], tool_choice: { type: "function", function: { name: "nope" } } }, "tool_choice"],
                [{ tool_choice: "required" }, "tool_choice"],
                [{ messages: [{ role: "tool", content: "x" }] }, "messages[0].tool_call_id"],
                [{ tools: [weather], tool_choice: "required", response_format: { type: "json_object" } }, "response_format"],
                [{ tools: [weather, weather] }, "tools[1].function.name"]
            ];
            for (const [extra, param] of cases) {
                const error = await client.chat.completions
                    .create({
                        model: "stories260K",
                        messages: [{ role: "user", content: "hi" }],
                        max_tokens: 2,
                        ...extra
                    } as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming)
                    .then(
                        () => undefined,
                        (e: unknown) => e
                    );
                assert.ok(error instanceof OpenAI.BadRequestError, `${param}: ${String(error)}`);
                assert.equal((error.error as { param?: string }).param, param);
            }
        });
    });
}
