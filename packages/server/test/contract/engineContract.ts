import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { auth, parseSse, type Harness } from "../support/harness.js";

interface GenerateBody {
    id: string;
    model: string;
    choices: Array<{ text: string; finish_reason: string }>;
    usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    metal_stats: { backend: string; batch_size: number; processing_time_ms: number; mps_allocated: string };
}

/**
 * The behaviour every engine must show through the HTTP API. It runs against the fake engine and
 * the real node-llama-cpp engine; only text content differs, so assertions are about shape,
 * determinism, accounting and lifecycle, never about specific words.
 */
export function engineContract(name: string, make: () => Promise<Harness>, modelId: string): void {
    describe(`engine contract: ${name}`, () => {
        let h: Harness;
        let url: string;
        const post = (body: object, key = h.keys.generate, signal?: AbortSignal) =>
            fetch(`${url}/v1/generate`, { method: "POST", headers: { ...auth(key), "content-type": "application/json" }, body: JSON.stringify(body), signal });
        const generate = async (body: object): Promise<GenerateBody> => {
            const res = await post(body);
            assert.equal(res.status, 200, await res.clone().text());
            return (await res.json()) as GenerateBody;
        };
        const stats = async () =>
            (await (await fetch(`${url}/v1/stats`, { headers: auth(h.keys.read) })).json()) as {
                models: Record<string, { active_sequences: number; completion_tokens_total: number; queue_depth: number }>;
                server: { active_sequences: number };
            };

        before(async () => {
            h = await make();
            url = await h.listen();
        });
        after(async () => {
            await h.close();
        });

        it("answers in the reference's shape with consistent usage", async () => {
            const body = await generate({ model: modelId, prompt: "Once upon a time", temperature: 0, max_tokens: 12, ignore_eos: true });
            assert.match(body.id, /^gen_[0-9a-f]{24}$/, body.id);
            assert.equal(body.model, modelId);
            assert.equal(body.choices.length, 1);
            assert.equal(body.choices[0]!.finish_reason, "length");
            assert.equal(body.usage.completion_tokens, 12);
            assert.ok(body.usage.prompt_tokens >= 1, JSON.stringify(body.usage));
            assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens);
            assert.ok(body.metal_stats.processing_time_ms > 0, JSON.stringify(body.metal_stats));
            assert.equal(body.metal_stats.batch_size, 1);
        });

        it("streams chunks whose concatenation equals the non-streamed text", async () => {
            const request = { model: modelId, prompt: "Once upon a time", temperature: 0, max_tokens: 30, ignore_eos: true, seed: 3 };
            const whole = await generate(request);
            const res = await post({ ...request, stream: true });
            assert.equal(res.status, 200);
            assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
            assert.ok(res.headers.get("x-request-id"));
            const events = parseSse(await res.text()).filter((e) => !e.comment);
            assert.equal(events.at(-1)?.data, "[DONE]");
            const chunks = events.slice(0, -1).map((e) => e.data as GenerateBody & { choices: Array<{ text: string; finish_reason: string | null }> });
            assert.ok(chunks.length > 2, "one event per token or small group, not one blob");
            for (const chunk of chunks.slice(0, -1)) assert.equal(chunk.choices[0]!.finish_reason, null);
            const last = chunks.at(-1)!;
            assert.equal(last.choices[0]!.finish_reason, "length");
            assert.deepEqual(last.usage, whole.usage);
            assert.ok(last.metal_stats);
            assert.equal(chunks.map((c) => c.choices[0]!.text).join(""), whole.choices[0]!.text);
            assert.ok(chunks.every((c) => c.id === chunks[0]!.id && c.model === modelId));
        });

        it("is deterministic for a seed and for temperature 0", async () => {
            const a = await generate({ model: modelId, prompt: "The cat", temperature: 0.9, seed: 42, max_tokens: 20, ignore_eos: true });
            const b = await generate({ model: modelId, prompt: "The cat", temperature: 0.9, seed: 42, max_tokens: 20, ignore_eos: true });
            assert.equal(a.choices[0]!.text, b.choices[0]!.text);
            const g1 = await generate({ model: modelId, prompt: "The cat", temperature: 0, max_tokens: 20, ignore_eos: true });
            const g2 = await generate({ model: modelId, prompt: "The cat", temperature: 0, max_tokens: 20, ignore_eos: true });
            assert.equal(g1.choices[0]!.text, g2.choices[0]!.text);
        });

        it("ends at a stop sequence and leaves it out", async () => {
            const full = (await generate({ model: modelId, prompt: "Once upon a time", temperature: 0, max_tokens: 40, ignore_eos: true })).choices[0]!.text;
            const words = full.split(" ").filter((w) => w.length >= 3);
            const stop = words[Math.floor(words.length / 2)]!;
            const cut = await generate({ model: modelId, prompt: "Once upon a time", temperature: 0, max_tokens: 40, ignore_eos: true, stop: [stop, "zzzz"] });
            assert.equal(cut.choices[0]!.finish_reason, "stop");
            assert.equal(cut.choices[0]!.text, full.slice(0, full.indexOf(stop)));
        });

        it("frees the sequence when the client disconnects mid-stream", async () => {
            const before = (await stats()).models[modelId]!.completion_tokens_total;
            const controller = new AbortController();
            // As long as the context allows, so even a fast engine is still generating when the client leaves.
            const entry = (await (await fetch(`${url}/v1/models/${modelId}`, { headers: auth(h.keys.read) })).json()) as { context_size: number };
            const maxTokens = entry.context_size - 16;
            const res = await post({ model: modelId, prompt: "Once upon a time", max_tokens: maxTokens, ignore_eos: true, stream: true }, h.keys.generate, controller.signal);
            const reader = res.body!.getReader();
            await reader.read();
            await reader.read();
            controller.abort();
            let active = -1;
            for (let i = 0; i < 200; i++) {
                const s = await stats();
                active = s.models[modelId]!.active_sequences;
                if (active === 0) break;
                await sleep(10);
            }
            assert.equal(active, 0, "the sequence went back to the pool");
            const after = (await stats()).models[modelId]!.completion_tokens_total;
            assert.equal(after, before, "an aborted generation does not count as completed tokens");
        });

        it("queues requests beyond `parallel` and completes them all", async () => {
            const bodies = await Promise.all(Array.from({ length: 5 }, (_, i) => generate({ model: modelId, prompt: `Story ${i}`, max_tokens: 40, ignore_eos: true, seed: i })));
            for (const b of bodies) assert.equal(b.usage.completion_tokens, 40);
            assert.ok(Math.max(...bodies.map((b) => b.metal_stats.batch_size)) > 1, "overlapping requests were decoded in one batch");
            assert.equal((await stats()).server.active_sequences, 0);
        });

        it("answers 503 server_busy with Retry-After when the queue is full", async () => {
            const definition = h.service.resolve(modelId);
            const held = [];
            const signal = new AbortController().signal;
            for (let i = 0; i < definition.options.parallel; i++) held.push(await h.scheduler.acquire(definition, signal));
            const queued = Array.from({ length: h.maxQueue }, () => post({ model: modelId, prompt: "wait", max_tokens: 2 }));
            for (let i = 0; i < 200 && h.scheduler.queueDepth < h.maxQueue; i++) await sleep(5);
            assert.equal(h.scheduler.queueDepth, h.maxQueue);
            const refused = await post({ model: modelId, prompt: "no room", max_tokens: 2 });
            assert.equal(refused.status, 503);
            assert.equal(refused.headers.get("retry-after"), "1");
            assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "server_busy");
            for (const lease of held) lease.release();
            for (const res of await Promise.all(queued)) assert.equal(res.status, 200, "queued requests ran once a sequence was free");
        });
    });
}
