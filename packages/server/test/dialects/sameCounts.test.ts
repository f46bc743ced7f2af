import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { NodeLlamaEngine } from "@quandex/engine";
import { requireTestModel } from "@quandex/test-support";
import { auth, createHarness, type Harness } from "../support/harness.js";

/**
 * No dialect bypasses accounting: one conversation sent through OpenAI chat, Anthropic Messages
 * and Ollama chat (each with its official client, on one key) is the same prompt for the engine,
 * gives the same greedy text and token counts in each dialect's usage fields, and moves
 * `/v1/stats`, the key's usage ledger, and the Prometheus counters by exactly the same amounts each time.
 */

const model = requireTestModel();
const system = "Tell a story.";
const user = "A little cat";
const maxTokens = 12;

describe("the same load through every dialect gives the same counts", () => {
    let h: Harness;
    before(async () => {
        h = await createHarness({ engine: await NodeLlamaEngine.create({ gpu: "auto" }), files: { "stories260K.gguf": model }, defaults: { contextSize: 1024 } });
        await h.listen();
    });
    after(() => h.close());

    const stats = async () => {
        const body = (await (await fetch(`${h.url}/v1/stats`, { headers: auth(h.keys.admin) })).json()) as {
            models: Record<string, { requests_total: number; prompt_tokens_total: number; completion_tokens_total: number }>;
        };
        return body.models.stories260K!;
    };
    const metric = async (name: string): Promise<number> => {
        const text = await (await fetch(`${h.url}/metrics`, { headers: auth(h.keys.admin) })).text();
        return text
            .split("\n")
            .filter((l) => l.startsWith(`${name}{`) && l.includes('model="stories260K"'))
            .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
    };

    it("OpenAI, Anthropic and Ollama: equal text, equal usage, equal deltas in /v1/stats and /metrics", async () => {
        const openai = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: h.keys.generate, maxRetries: 0 });
        const anthropic = new Anthropic({ baseURL: h.url, apiKey: h.keys.generate, maxRetries: 0 });
        const ollama = new Ollama({ host: h.url, headers: { Authorization: `Bearer ${h.keys.generate}` } });
        // The second and third runs reuse the first one's evaluated prompt (the prompt cache); the counts include reused tokens in every dialect, so they must still agree.
        const runs: Array<[string, () => Promise<{ text: string; prompt: number; completion: number }>]> = [
            [
                "openai",
                async () => {
                    const c = await openai.chat.completions.create({
                        model: "stories260K",
                        messages: [
                            { role: "system", content: system },
                            { role: "user", content: user }
                        ],
                        temperature: 0,
                        max_tokens: maxTokens
                    });
                    return { text: c.choices[0]!.message.content!, prompt: c.usage!.prompt_tokens, completion: c.usage!.completion_tokens };
                }
            ],
            [
                "anthropic",
                async () => {
                    const m = await anthropic.messages.create({
                        model: "stories260K",
                        system,
                        messages: [{ role: "user", content: user }],
                        ...{ temperature: 0 },
                        max_tokens: maxTokens
                    });
                    return {
                        text: (m.content[0] as Anthropic.TextBlock).text,
                        prompt: m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0),
                        completion: m.usage.output_tokens
                    };
                }
            ],
            [
                "ollama",
                async () => {
                    const r = await ollama.chat({
                        model: "stories260K",
                        messages: [
                            { role: "system", content: system },
                            { role: "user", content: user }
                        ],
                        options: { temperature: 0, num_predict: maxTokens },
                        stream: false
                    });
                    return { text: r.message.content, prompt: r.prompt_eval_count, completion: r.eval_count };
                }
            ]
        ];
        const results: Array<{
            dialect: string;
            text: string;
            prompt: number;
            completion: number;
            requests: number;
            promptTotal: number;
            completionTotal: number;
            generated: number;
        }> = [];
        for (const [dialect, run] of runs) {
            const before = await stats();
            const generatedBefore = await metric("quandex_generation_tokens_total");
            const answer = await run();
            const after = await stats();
            results.push({
                dialect,
                ...answer,
                requests: after.requests_total - before.requests_total,
                promptTotal: after.prompt_tokens_total - before.prompt_tokens_total,
                completionTotal: after.completion_tokens_total - before.completion_tokens_total,
                generated: (await metric("quandex_generation_tokens_total")) - generatedBefore
            });
        }
        const [first, ...rest] = results;
        assert.equal(first!.requests, 1);
        assert.equal(first!.completion, maxTokens);
        assert.equal(first!.promptTotal, first!.prompt);
        assert.equal(first!.generated, maxTokens);
        for (const other of rest) assert.deepEqual({ ...other, dialect: first!.dialect }, first, `${other.dialect} differs from ${first!.dialect}`);

        const usage = (await (await fetch(`${h.url}/v1/usage`, { headers: auth(h.keys.generate) })).json()) as unknown;
        assert.match(JSON.stringify(usage), new RegExp(`"completion_tokens":${3 * maxTokens}\\b`), JSON.stringify(usage));
    });
});
