import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { NodeLlamaEngine } from "@quandex/engine";
import { requireTestModel } from "@quandex/test-support";
import { createHarness, type Harness } from "./support/harness.js";

/**
 * How good /v1/embeddings is on the test model, measured through the official client: pairs of
 * sentences that say the same thing against every other pairing. The figures are printed as test
 * diagnostics (docs/openai.md quotes them); the assertions only hold what any embedding must do.
 * stories260K is a 260K-parameter story generator with 64-dimensional states, not an embedding
 * model, so nobody should expect useful similarity from it.
 */

const pairs: Array<[string, string]> = [
    ["The cat sat on the mat.", "A kitten was sitting on the rug."],
    ["Lily went to the park to play with her ball.", "The girl played ball in the park."],
    ["Tom was sad because he lost his toy.", "The boy cried when his toy was gone."],
    ["The sun was hot and bright in the sky.", "It was a sunny and warm day."],
    ["Mom baked a big cake for the party.", "Mother made a cake for the birthday."],
    ["The dog barked at the big truck.", "A puppy was barking at a car."],
    ["They went to the beach and swam in the sea.", "The kids played in the water at the beach."],
    ["The bird flew high over the tall tree.", "A little bird was flying above the trees."],
    ["Quarterly revenue exceeded analyst expectations.", "The company's earnings beat forecasts."]
];

const dot = (a: readonly number[], b: readonly number[]): number => a.reduce((sum, x, i) => sum + x * b[i]!, 0);
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("embeddings quality on stories260K", () => {
    let h: Harness;
    let client: OpenAI;

    before(async () => {
        h = await createHarness({ engine: await NodeLlamaEngine.create({ gpu: "auto" }), files: { "stories260K.gguf": requireTestModel() } });
        client = new OpenAI({ baseURL: `${await h.listen()}/v1`, apiKey: h.keys.generate, maxRetries: 0 });
    });
    after(async () => {
        await h.close();
    });

    it("related vs unrelated cosine similarity, and nearest-neighbour retrieval", async (t) => {
        const response = await client.embeddings.create({ model: "stories260K", input: pairs.flat() });
        const vectors = response.data.map((d) => d.embedding);
        const anchors = vectors.filter((_, i) => i % 2 === 0);
        const paraphrases = vectors.filter((_, i) => i % 2 === 1);
        for (const v of vectors) assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-6, "unit length: a dot product is the cosine");
        assert.ok(Math.abs(dot(anchors[0]!, anchors[0]!) - 1) < 1e-6);

        const related = anchors.map((a, i) => dot(a, paraphrases[i]!));
        const unrelated = anchors.flatMap((a, i) => paraphrases.filter((_, j) => j !== i).map((p) => dot(a, p)));
        const top1 = anchors.filter((a, i) => {
            const scores = paraphrases.map((p) => dot(a, p));
            return scores.indexOf(Math.max(...scores)) === i;
        }).length;
        // The probability that a related pair scores above an unrelated one (ROC AUC).
        const wins = related.reduce((sum, r) => sum + unrelated.filter((u) => r > u).length + 0.5 * unrelated.filter((u) => r === u).length, 0);
        const auc = wins / (related.length * unrelated.length);
        const report = {
            dimensions: vectors[0]!.length,
            related_mean: round(mean(related)),
            related_min: round(Math.min(...related)),
            unrelated_mean: round(mean(unrelated)),
            unrelated_min: round(Math.min(...unrelated)),
            unrelated_max: round(Math.max(...unrelated)),
            top1_retrieval: `${top1}/${anchors.length} (chance ${round(1 / anchors.length)})`,
            auc: round(auc),
            prompt_tokens: response.usage.prompt_tokens
        };
        t.diagnostic(`embeddings quality: ${JSON.stringify(report)}`);
        t.diagnostic(`related pairs: ${related.map(round).join(", ")}`);
        assert.equal(report.dimensions, 64);
    });
});

function round(x: number): number {
    return Math.round(x * 1000) / 1000;
}
