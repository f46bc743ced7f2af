import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { LlamaServerEngine, NodeLlamaEngine, type ChatMessage, type ModelRunner } from "@quandex/engine";
import { llamaServerForTests, requireTestModel, writeModelWithChatTemplate } from "@quandex/test-support";
import { createHarness, type Harness } from "./support/harness.js";

/**
 * Chat templates on the real engine: the model's own template through node-llama-cpp's chat
 * wrappers, and the plain template for a model without one. stories260K has no template, so the
 * test writes copies of it that carry one (a custom Jinja template and ChatML).
 */

const modelPath = requireTestModel();
const dir = mkdtempSync(path.join(os.tmpdir(), "qdx-chat-template-"));
const upperTemplate = "{% for m in messages %}{{ m['role'] | upper }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}";
const chatmlTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
const upperPath = writeModelWithChatTemplate(modelPath, dir, upperTemplate, "upper.gguf");
const chatmlPath = writeModelWithChatTemplate(modelPath, dir, chatmlTemplate, "chatml.gguf");
after(() => rmSync(dir, { recursive: true, force: true }));

const messages: ChatMessage[] = [
    { role: "system", content: "Be nice." },
    { role: "user", content: "Hi" },
    { role: "assistant", content: "Hello!" },
    { role: "user", content: "Tell a story" }
];

describe("chat templates in the node-llama-cpp engine", () => {
    let engine: NodeLlamaEngine;
    const load = (file: string): Promise<ModelRunner> => engine.load({ id: path.basename(file), path: file, options: { contextSize: 256, parallel: 1, gpu: false, threads: 1 } });

    before(async () => {
        engine = await NodeLlamaEngine.create({ gpu: false });
    });
    after(async () => {
        await engine.dispose();
    });

    it("a model without a template gets the plain template, with the turn labels as stop strings", async () => {
        const runner = await load(modelPath);
        const rendered = await runner.renderChat!(messages);
        assert.equal(rendered.template, "plain");
        assert.equal(rendered.text, "System: Be nice.\nUser: Hi\nAssistant: Hello!\nUser: Tell a story\nAssistant:");
        assert.deepEqual(rendered.promptTokens, await runner.tokenize(rendered.text), "BOS and all");
        assert.deepEqual(rendered.stop, ["\nUser:", "\nSystem:", "\nAssistant:"]);
        assert.deepEqual(rendered.stopTokens, []);
        await runner.dispose();
    });

    it("a custom Jinja template renders through JinjaTemplateChatWrapper; BOS is added as the model wants", async () => {
        const runner = await load(upperPath);
        const rendered = await runner.renderChat!(messages);
        assert.equal(rendered.template, "JinjaTemplate");
        assert.match(rendered.text, /^<s>SYSTEM: Be nice\.\nUSER: Hi\nASSISTANT: Hello!\nUSER: Tell a story\nASSISTANT:\s*$/);
        assert.equal(rendered.promptTokens[0], 1, "BOS");
        assert.deepEqual(rendered.stop, ["\n"], "the template ends a turn with a newline");
        assert.deepEqual(rendered.stopTokens, [2], "and EOS ends it too");
        await runner.dispose();
    });

    it("a ChatML template resolves to node-llama-cpp's ChatML wrapper and stops at <|im_end|>", async () => {
        const runner = await load(chatmlPath);
        const rendered = await runner.renderChat!(messages);
        assert.equal(rendered.template, "ChatML");
        assert.ok(rendered.text.startsWith("<s><|im_start|>system\nBe nice.<|im_end|>\n"), rendered.text);
        assert.ok(rendered.text.endsWith("<|im_start|>user\nTell a story<|im_end|>\n<|im_start|>assistant\n"), rendered.text);
        assert.ok(rendered.stop.includes("<|im_end|>"));
        await runner.dispose();
    });
});

describe("chat templates in the llama-server engine", { skip: llamaServerForTests().skipReason }, () => {
    it("renders a model's own template through llama-server (Jinja), to the tokens the in-process engine makes, and a model without one with the plain template", async () => {
        const inProcess = await NodeLlamaEngine.create({ gpu: false });
        const child = await LlamaServerEngine.create({ binaryPath: llamaServerForTests().binaryPath!, gpu: false });
        try {
            const options = { contextSize: 256, parallel: 1, gpu: false, threads: 1 } as const;
            const render = async (file: string) => {
                const a = await inProcess.load({ id: "a", path: file, options });
                const b = await child.load({ id: "b", path: file, options });
                const [local, served] = await Promise.all([a.renderChat!(messages), b.renderChat!(messages)]);
                await a.dispose();
                await b.dispose();
                return { local, served };
            };
            // Exactly what the Jinja template writes (node-llama-cpp's wrapper adds a space after the last label).
            const upper = await render(upperPath);
            assert.equal(upper.served.text, "SYSTEM: Be nice.\nUSER: Hi\nASSISTANT: Hello!\nUSER: Tell a story\nASSISTANT:");
            assert.equal(upper.served.promptTokens[0], 1, "BOS, which the model wants and the template does not write");
            // The same text as node-llama-cpp's ChatML wrapper renders (here <|im_start|> is no token of the
            // test model's vocabulary, so the two tokenize the pieces at different boundaries).
            const chatml = await render(chatmlPath);
            assert.equal(`<s>${chatml.served.text}`, chatml.local.text);
            assert.equal(chatml.served.promptTokens[0], 1);
            const plain = await render(modelPath);
            assert.equal(plain.served.template, "plain");
            assert.deepEqual(plain.served.promptTokens, plain.local.promptTokens);
        } finally {
            await child.dispose();
            await inProcess.dispose();
        }
    });
});

describe("chat completions through a model's own template", () => {
    let h: Harness;
    let client: OpenAI;

    before(async () => {
        h = await createHarness({ engine: await NodeLlamaEngine.create({ gpu: "auto" }), files: { "upper.gguf": upperPath, "stories260K.gguf": modelPath } });
        client = new OpenAI({ baseURL: `${await h.listen()}/v1`, apiKey: h.keys.generate, maxRetries: 0 });
    });
    after(async () => {
        await h.close();
    });

    it("renders with the model's template (not the plain one) and ends the reply at the template's end of turn", async () => {
        const request = { messages: [{ role: "user" as const, content: "Tell me a story about a dog." }], temperature: 0, max_tokens: 120 };
        const templated = await client.chat.completions.create({ model: "upper", ...request });
        const plain = await client.chat.completions.create({ model: "stories260K", ...request });
        const reply = templated.choices[0]!.message.content!;
        assert.ok(!reply.includes("\n"), `the reply ends at the first newline: ${JSON.stringify(reply)}`);
        if (templated.choices[0]!.finish_reason === "stop") assert.ok(templated.usage!.completion_tokens < 120);
        // "USER: …\nASSISTANT: " and "User: …\nAssistant:" tokenize differently on this vocabulary.
        assert.notEqual(templated.usage!.prompt_tokens, plain.usage!.prompt_tokens);
    });
});
