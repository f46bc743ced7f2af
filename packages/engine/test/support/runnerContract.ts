import assert from "node:assert/strict";
import { it } from "node:test";
import { goldenText } from "@quandex/test-support";
import type { ModelRunner } from "../../src/Engine.js";
import { runGeneration, sampling } from "./runGeneration.js";

/**
 * What every engine's runner must do with the test model, registered as tests in the calling
 * `describe`; `runner` is read when each test runs (after the suite's `before`).
 */
export function runnerContract(runner: () => ModelRunner): void {
    it("reproduces the golden greedy text, with BOS counted in the prompt", async () => {
        const { text, done } = await runGeneration(runner(), "Once upon a time", sampling());
        assert.equal(text, goldenText);
        assert.deepEqual(await runner().tokenize("Once upon a time"), [1, 403, 407, 261, 378]);
        assert.equal(done?.promptTokens, 5);
        assert.equal(done?.completionTokens, 100);
        assert.equal(done?.finishReason, "length");
    });

    it("tokenizes control-token text as plain text", async () => {
        const tokens = await runner().tokenize("<s>");
        assert.equal(tokens[0], 1, "BOS first");
        assert.ok(tokens.length > 2 && !tokens.slice(1).includes(1), `"<s>" typed by a user is not BOS: ${tokens}`);
    });

    it("gives the same text for the same seed, and another text for another seed", async () => {
        const a = await runGeneration(runner(), "Once upon a time", sampling({ temperature: 0.8, seed: 7, maxTokens: 40 }));
        const b = await runGeneration(runner(), "Once upon a time", sampling({ temperature: 0.8, seed: 7, maxTokens: 40 }));
        const c = await runGeneration(runner(), "Once upon a time", sampling({ temperature: 0.8, seed: 8, maxTokens: 40 }));
        assert.equal(a.text, b.text);
        assert.notEqual(a.text, c.text);
    });

    it("ends at a stop sequence without returning it", async () => {
        const { text, done } = await runGeneration(runner(), "Once upon a time", sampling({ stop: ["Lily"] }));
        assert.equal(text, ", there was a little girl named ");
        assert.equal(done?.finishReason, "stop");
    });

    it("ends at a stop token without sending or counting it", async () => {
        const lily = (await runner().tokenize("Once upon a time, there was a little girl named Lily")).at(-1)!;
        const before = await runner().tokenize("Once upon a time, there was a little girl named");
        const { text, done } = await runGeneration(runner(), "Once upon a time", sampling({ stopTokens: [lily] }));
        assert.equal(text, ", there was a little girl named");
        assert.equal(done?.finishReason, "stop");
        assert.equal(done?.completionTokens, before.length - 5);
    });

    // Prompt reuse: a turn re-sends the whole conversation; only what is new may be evaluated, and
    // the output must be exactly what it is without reuse.
    async function conversation(r: ModelRunner, opening: string, turns: string[], s: ReturnType<typeof sampling>, cacheKey: string | null) {
        let prompt = opening;
        const outputs: Array<{ text: string; cached: number; prompt: number }> = [];
        for (const turn of turns) {
            prompt += turn;
            const { text, done } = await runGeneration(r, prompt, s, undefined, cacheKey);
            outputs.push({ text, cached: done!.cachedTokens, prompt: done!.promptTokens });
            prompt += text;
        }
        return outputs;
    }

    it("reuses each conversation's evaluated prompt on its next turn, interleaved, with the output it has without reuse", async () => {
        const greedy = sampling({ maxTokens: 24 });
        const seeded = sampling({ maxTokens: 24, temperature: 0.8, seed: 42 });
        for (const s of [greedy, seeded]) {
            const turnsA = ["Once upon a time", " The dog ran.", " Then the sun came out."];
            const turnsB = ["Tom had a red ball.", " He threw it.", " It went far."];
            const plainA = await conversation(runner(), "", turnsA, s, null);
            const plainB = await conversation(runner(), "", turnsB, s, null);
            assert.ok(
                plainA.every((t) => t.cached === 0),
                "no reuse without a cache key"
            );
            // Interleaved: A1 B1 A2 B2 A3 B3, each on the sequence its own conversation left.
            const reusedA: typeof plainA = [];
            const reusedB: typeof plainB = [];
            let promptA = "";
            let promptB = "";
            for (let i = 0; i < turnsA.length; i++) {
                for (const [turns, into, key] of [
                    [turnsA, reusedA, "a"],
                    [turnsB, reusedB, "b"]
                ] as const) {
                    const prompt = (key === "a" ? promptA : promptB) + turns[i];
                    const { text, done } = await runGeneration(runner(), prompt, s, undefined, key);
                    into.push({ text, cached: done!.cachedTokens, prompt: done!.promptTokens });
                    if (key === "a") promptA = prompt + text;
                    else promptB = prompt + text;
                }
            }
            assert.deepEqual(
                reusedA.map((t) => t.text),
                plainA.map((t) => t.text)
            );
            assert.deepEqual(
                reusedB.map((t) => t.text),
                plainB.map((t) => t.text)
            );
            assert.deepEqual(
                reusedA.map((t) => t.prompt),
                plainA.map((t) => t.prompt),
                "prompt_tokens counts every prompt token"
            );
            for (const turns of [reusedA, reusedB]) {
                for (let i = 1; i < turns.length; i++) {
                    const previous = turns[i - 1]!;
                    assert.ok(turns[i]!.cached >= previous.prompt, `turn ${i + 1} reused ${turns[i]!.cached} tokens, the last prompt had ${previous.prompt}`);
                    assert.ok(turns[i]!.cached < turns[i]!.prompt, "at least the last prompt token is evaluated");
                }
            }
        }
    });

    it("reuses nothing across cache keys, and only the still-valid part of a prompt that diverges", async () => {
        const s = sampling({ maxTokens: 12 });
        await runGeneration(runner(), "Once upon a time there was a cat", s, undefined, "k1");
        const other = await runGeneration(runner(), "Once upon a time there was a cat", s, undefined, "k2");
        assert.equal(other.done?.cachedTokens, 0, "another key's evaluated prompt is never reused");
        const plain = await runGeneration(runner(), "Once upon a time, a big dog", s);
        const diverged = await runGeneration(runner(), "Once upon a time, a big dog", s, undefined, "k1");
        assert.equal(diverged.text, plain.text);
        const common = (await runner().tokenize("Once upon a time")).length;
        assert.ok(diverged.done!.cachedTokens >= common - 1 && diverged.done!.cachedTokens < diverged.done!.promptTokens, `reused ${diverged.done!.cachedTokens}`);
    });

    it("trusts nothing a cut-off generation left, and hands a sequence to one generation at a time", async () => {
        const s = sampling({ maxTokens: 200, ignoreEos: true });
        const abort = new AbortController();
        const promptTokens = await runner().tokenize("Once upon a time in a land far away");
        let seen = 0;
        for await (const event of runner().generate({ promptTokens, sampling: s, cacheKey: "cut" }, abort.signal)) {
            if (event.type === "text" && ++seen === 3) abort.abort();
        }
        const after = await runGeneration(runner(), "Once upon a time in a land far away", sampling({ maxTokens: 12 }), undefined, "cut");
        const plain = await runGeneration(runner(), "Once upon a time in a land far away", sampling({ maxTokens: 12 }));
        assert.equal(after.text, plain.text);
        // As many conversations of one key at once as there are sequences: each gets its own.
        const many = await Promise.all(
            Array.from({ length: runner().parallel }, (_, i) =>
                runGeneration(runner(), `Once upon a time ${"there ".repeat(i + 1)}`, sampling({ maxTokens: 16 }), undefined, "same")
            )
        );
        const alone = await Promise.all(
            Array.from({ length: runner().parallel }, (_, i) => runGeneration(runner(), `Once upon a time ${"there ".repeat(i + 1)}`, sampling({ maxTokens: 16 })))
        );
        assert.deepEqual(
            many.map((r) => r.text),
            alone.map((r) => r.text)
        );
    });
}
