import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { QuandexError } from "@quandex/protocol";
import { allowedSkip, makeSyntheticModel, requireTestModel, syntheticModelPresets, writeBrokenModels } from "@quandex/test-support";
import type { ModelRunner } from "../src/Engine.js";
import { NodeLlamaEngine } from "../src/nodeLlama/NodeLlamaEngine.js";
import { runGeneration, sampling } from "./support/runGeneration.js";
import { runnerContract } from "./support/runnerContract.js";

const modelPath = requireTestModel();

describe("NodeLlamaEngine on the real model", () => {
    let engine: NodeLlamaEngine;
    let runner: ModelRunner;

    before(async () => {
        engine = await NodeLlamaEngine.create({ gpu: "auto" });
        runner = await engine.load({ id: "stories260K", path: modelPath, options: { contextSize: 512, parallel: 4, gpu: "auto", threads: 1 } });
    });
    after(async () => {
        await engine.dispose();
    });

    runnerContract(() => runner);

    // stories260K was trained with BOS between stories and almost never samples EOS, so only the
    // ignoreEos side is observable here; the fake engine's contract tests cover the EOS side.
    it("generates exactly max_tokens with ignoreEos", async () => {
        const forced = await runGeneration(runner, "Once upon a time", sampling({ maxTokens: 400, ignoreEos: true }));
        assert.equal(forced.done?.completionTokens, 400);
        assert.equal(forced.done?.finishReason, "length");
    });

    it("decodes concurrent sequences in shared batches", async () => {
        const results = await Promise.all(
            [1, 2, 3, 4].map((seed) => runGeneration(runner, "Once upon a time", sampling({ temperature: 0.8, seed, maxTokens: 60, ignoreEos: true })))
        );
        for (const r of results) assert.equal(r.done?.completionTokens, 60);
        assert.ok(Math.max(...results.map((r) => r.done!.batchSize)) > 1, "overlapping requests share batches");
    });

    it("stops decoding when the signal fires", async () => {
        const controller = new AbortController();
        let pieces = 0;
        const tokens = await runner.tokenize("Once upon a time");
        for await (const event of runner.generate({ promptTokens: tokens, sampling: sampling({ maxTokens: 400, ignoreEos: true }) }, controller.signal)) {
            if (event.type === "text" && ++pieces === 5) controller.abort();
            assert.notEqual(event.type, "done", "an aborted generation does not finish");
        }
        assert.ok(pieces <= 6);
    });

    it("reports CPU honestly: no accelerator memory and no offloaded layers", () => {
        const r = runner.resources();
        assert.equal(r.backend, engine.info().backend === "cpu" ? "cpu" : r.backend);
        if (r.backend === "cpu") {
            assert.equal(r.acceleratorBytes, 0);
            assert.equal(r.gpuLayers, 0);
        }
        assert.ok(r.totalBytes >= 1_171_200, "at least the weights");
    });

    for (const kind of ["corrupt", "truncated", "badOffsets"] as const) {
        it(`refuses a ${kind} model file with a clear error and keeps working`, async () => {
            const files = writeBrokenModels(modelPath, mkdtempSync(path.join(os.tmpdir(), "qdx-broken-")));
            await assert.rejects(
                engine.load({ id: kind, path: files[kind], options: { contextSize: 256, parallel: 1, gpu: "auto", threads: 1 } }),
                (e: unknown) => e instanceof Error && e.message.length > 0
            );
            const { text } = await runGeneration(runner, "Once upon a time", sampling({ maxTokens: 5 }));
            assert.equal(text, ", there was a little");
        });
    }

    it("ignore_eos really suppresses end-of-sequence on a model that emits it", async () => {
        // A random-weight model with the test model's tokenizer, which samples EOS early.
        const synthetic = await makeSyntheticModel({ ...syntheticModelPresets.tiny, seed: 2, outPath: path.join(mkdtempSync(path.join(os.tmpdir(), "qdx-eos-")), "eos.gguf") });
        const eosRunner = await engine.load({ id: "eos", path: synthetic.path, options: { contextSize: 256, parallel: 1, gpu: "auto", threads: 1 } });
        try {
            const natural = await runGeneration(eosRunner, "Once upon a time", sampling({ maxTokens: 100 }));
            assert.equal(natural.done?.finishReason, "stop", "this model ends on EOS by itself");
            assert.ok(natural.done!.completionTokens < 100);
            const forced = await runGeneration(eosRunner, "Once upon a time", sampling({ maxTokens: 100, ignoreEos: true }));
            assert.equal(forced.done?.finishReason, "length");
            assert.equal(forced.done?.completionTokens, 100);
        } finally {
            await eosRunner.dispose();
        }
    });

    it("refuses gpu: true when no GPU backend is usable", async (t) => {
        if (engine.info().backend !== "cpu") return t.skip(allowedSkip("this machine has a GPU backend, so gpu: true is usable here"));
        await assert.rejects(
            engine.load({ id: "x", path: modelPath, options: { contextSize: 256, parallel: 1, gpu: true, threads: 1 } }),
            (e: unknown) => e instanceof QuandexError && /gpu: true/.test(e.message)
        );
    });
});
