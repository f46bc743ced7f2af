import assert from "node:assert/strict";
import { it } from "node:test";
import type { ModelRunner } from "../../src/Engine.js";
import { runGeneration, sampling } from "./runGeneration.js";
import { goldenText } from "./testModel.js";

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
}
