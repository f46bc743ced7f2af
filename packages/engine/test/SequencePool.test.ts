import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { requireTestModel } from "@quandex/test-support";
import { getLlama, LlamaLogLevel, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from "node-llama-cpp";
import { SequencePool } from "../src/nodeLlama/SequencePool.js";

const modelPath = requireTestModel();

/**
 * Reuse must be exact at the level the runner contract cannot see on every machine: the next-token
 * probabilities after a reused prefix are bit for bit those of a fresh evaluation. (Whether a
 * rounding difference flips a sampled token depends on the CPU; a probability differs on any.)
 */
describe("SequencePool reuse on the real model", () => {
    let model: LlamaModel;
    let context: LlamaContext;
    let pool: SequencePool;
    let fresh: LlamaContextSequence;

    before(async () => {
        const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error, build: "never" });
        model = await llama.loadModel({ modelPath });
        context = await model.createContext({ contextSize: 1024, sequences: 3, threads: 1 });
        fresh = context.getSequence();
        pool = new SequencePool(context, 2);
    });
    after(async () => {
        await context.dispose();
        await model.dispose();
    });

    const tokens = (text: string) => model.tokenize(text, false);
    /** The next-token probabilities after evaluating `input` on `sequence`, in llama.cpp's order. */
    async function nextProbabilities(sequence: LlamaContextSequence, input: readonly Token[]): Promise<Array<[Token, number]>> {
        const out = await sequence.controlledEvaluate(input.map((token, i) => (i === input.length - 1 ? [token, { generateNext: { probabilities: true } }] : token)));
        return [...out.at(-1)!.next!.probabilities!.entries()];
    }
    async function freshProbabilities(prompt: readonly Token[]) {
        await fresh.clearHistory();
        return nextProbabilities(fresh, prompt);
    }

    it("gives a turn that re-sends the conversation the probabilities of a fresh evaluation", async () => {
        const turn1 = [model.tokens.bos!, ...tokens("Once upon a time")];
        const first = await pool.take(turn1, "k");
        assert.equal(first.reused, 0);
        // Generated the way a runner does: the prompt in one batch, then one token per decode.
        const answer: Token[] = [];
        for await (const token of first.sequence.evaluate(turn1, { temperature: 0 })) {
            answer.push(token);
            if (answer.length === 20) break;
        }
        pool.give(first.sequence, "k", turn1.length);

        const turn2 = [...turn1, ...answer, ...tokens(" The dog ran. Then")];
        const second = await pool.take(turn2, "k");
        assert.equal(second.sequence, first.sequence, "the conversation's own sequence");
        assert.equal(second.reused, turn1.length, "the last prompt is reused, the answer decoded one token at a time is not");
        assert.deepEqual(await nextProbabilities(second.sequence, turn2.slice(second.reused)), await freshProbabilities(turn2));
        pool.give(second.sequence, "k", turn2.length);
    });

    it("evaluates at least the prompt's last two tokens, never one alone", async () => {
        const prompt = [model.tokens.bos!, ...tokens("Once upon a time there was a dog")];
        const first = await pool.take(prompt.slice(0, -1), "one");
        await first.sequence.controlledEvaluate(prompt.slice(0, -1));
        pool.give(first.sequence, "one", prompt.length - 1);
        const again = await pool.take(prompt, "one");
        assert.equal(again.reused, prompt.length - 2);
        assert.deepEqual(await nextProbabilities(again.sequence, prompt.slice(again.reused)), await freshProbabilities(prompt));
        pool.give(again.sequence, "one", 0);
    });

    it("trusts nothing of a sequence given back untrusted, nor a one-token prompt", async () => {
        const prompt = [model.tokens.bos!, ...tokens("Once upon a time")];
        const first = await pool.take(prompt, "u");
        await first.sequence.controlledEvaluate(prompt);
        pool.give(first.sequence, "u", 0);
        assert.equal((await pool.take(prompt, "u")).reused, 0);

        const bos = [model.tokens.bos!];
        const single = await pool.take(bos, "b");
        await single.sequence.controlledEvaluate(bos);
        pool.give(single.sequence, "b", 1);
        assert.equal((await pool.take([...bos, ...tokens("Once upon a time")], "b")).reused, 0, "a one-token prompt was evaluated alone");
    });
});
