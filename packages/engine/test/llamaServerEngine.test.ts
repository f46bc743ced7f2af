import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { QuandexError } from "@quandex/protocol";
import { allowedSkip, llamaServerForTests, makeSyntheticModel, requireTestModel, syntheticModelPresets, writeBrokenModels } from "@quandex/test-support";
import type { ModelRunner } from "../src/Engine.js";
import { inspectLlamaServer, LlamaServerBinaryError, parseVersion } from "../src/llamaServer/inspectLlamaServer.js";
import { LlamaServerEngine } from "../src/llamaServer/LlamaServerEngine.js";
import { readLoadReport, type LlamaServerRunner } from "../src/llamaServer/LlamaServerRunner.js";
import { runGeneration, sampling } from "./support/runGeneration.js";
import { runnerContract } from "./support/runnerContract.js";

const { binaryPath, skipReason } = llamaServerForTests();
const modelPath = requireTestModel();
const options = (over: Partial<{ contextSize: number; parallel: number; threads: number }> = {}) => ({ contextSize: 512, parallel: 4, gpu: "auto" as const, threads: 1, ...over });

/** A copy of the model whose architecture llama.cpp does not know: valid GGUF, so only the child can refuse it. */
function unknownArchitectureModel(dir: string): string {
    const buf = Buffer.from(readFileSync(modelPath));
    const key = Buffer.from("general.architecture");
    const at = buf.indexOf(key);
    assert.ok(at > 0);
    const valueLength = Number(buf.readBigUInt64LE(at + key.length + 4));
    buf.write("x".repeat(valueLength), at + key.length + 12, "latin1");
    const out = path.join(dir, "unknown-arch.gguf");
    writeFileSync(out, buf);
    return out;
}

/** Pids of processes whose parent is `pid` (Linux). */
function childrenOf(pid: number): number[] {
    try {
        return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
        return [];
    }
}

function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

describe("llama-server output parsing", () => {
    it("reads offloaded layers and accelerator buffers from the load log, not host buffers", () => {
        const log = [
            "load_tensors: offloading 12 repeating layers to GPU",
            "load_tensors: offloaded 13/13 layers to GPU",
            "load_tensors:        CUDA0 model buffer size =   160.00 MiB",
            "load_tensors:   CPU_Mapped model buffer size =    12.00 MiB",
            "llama_kv_cache:      CUDA0 KV buffer size =    36.00 MiB",
            "llama_context:  CUDA_Host compute buffer size =     4.00 MiB"
        ];
        assert.deepEqual(readLoadReport(log), { gpuLayers: 13, acceleratorBytes: 196 * 1024 * 1024 });
        assert.deepEqual(readLoadReport(["load_tensors:   CPU_Mapped model buffer size =     1.12 MiB"]), { gpuLayers: 0, acceleratorBytes: 0 });
    });

    it("reads both version shapes llama-server prints", () => {
        assert.deepEqual(parseVersion("version: 7200 (80fb11a)\nbuilt with cc"), { text: "7200 (80fb11a)", buildNumber: 7200, commit: "80fb11a" });
        assert.deepEqual(parseVersion("version: 0.4.0-dev (build 1, commit 80fb11a)\n"), { text: "0.4.0-dev (build 1, commit 80fb11a)", buildNumber: 1, commit: "80fb11a" });
        assert.equal(parseVersion("Python 3.11.2"), null);
    });

    it("refuses a binary that is not a llama-server, saying what to do", async () => {
        await assert.rejects(inspectLlamaServer("/nonexistent/llama-server"), (e: unknown) => e instanceof LlamaServerBinaryError && /quandex engine build/.test(e.message));
        await assert.rejects(inspectLlamaServer("/bin/true"), (e: unknown) => e instanceof LlamaServerBinaryError && /not a llama\.cpp server/.test(e.message));
    });
});

describe("LlamaServerEngine on the real model", { skip: skipReason }, () => {
    let engine: LlamaServerEngine;
    let runner: ModelRunner;
    const tmp = mkdtempSync(path.join(os.tmpdir(), "qdx-llama-server-"));

    before(async () => {
        engine = await LlamaServerEngine.create({ binaryPath: binaryPath! });
        runner = await engine.load({ id: "stories260K", path: modelPath, options: options() });
    });
    after(async () => {
        await engine?.dispose();
    });

    runnerContract(() => runner);

    it("generates exactly max_tokens with ignoreEos, up to the last token of the context", async () => {
        const forced = await runGeneration(runner, "Once upon a time", sampling({ maxTokens: 400, ignoreEos: true }));
        assert.equal(forced.done?.completionTokens, 400);
        assert.equal(forced.done?.finishReason, "length");
        const full = await runGeneration(runner, "Once upon a time", sampling({ maxTokens: 512 - 5, ignoreEos: true }));
        assert.equal(full.done?.completionTokens, 507, "prompt + max_tokens may fill the context exactly");
    });

    it("decodes concurrent sequences in shared batches", async () => {
        const results = await Promise.all(
            [1, 2, 3, 4].map((seed) => runGeneration(runner, "Once upon a time", sampling({ temperature: 0.8, seed, maxTokens: 60, ignoreEos: true })))
        );
        for (const r of results) assert.equal(r.done?.completionTokens, 60);
        assert.ok(Math.max(...results.map((r) => r.done!.batchSize)) > 1, "overlapping requests share batches");
        const alone = await runGeneration(runner, "Once upon a time", sampling({ maxTokens: 10 }));
        assert.equal(alone.done?.batchSize, 1);
    });

    it("evaluates a long opening that a burst of requests shares once, and gives each the output it has without reuse", async () => {
        // 4 requests at once, one key, the same ~300-token opening and their own endings.
        const opening = Array.from({ length: 16 }, (_, i) => `Tom saw ${i + 1} red birds in the big tree.`).join(" ");
        const prompts = [" Then the dog ran.", " The cat was sad.", " Lily had a ball.", " The sun came out."].map((end) => opening + end);
        const s = sampling({ maxTokens: 16 });
        const plain: string[] = [];
        for (const prompt of prompts) plain.push((await runGeneration(runner, prompt, s)).text);
        const shared = await Promise.all(prompts.map((prompt) => runGeneration(runner, prompt, s, undefined, "burst")));
        assert.deepEqual(
            shared.map((r) => r.text),
            plain
        );
        const openingTokens = (await runner.tokenize(opening)).length;
        assert.ok(openingTokens >= 256, `the opening is long enough to share: ${openingTokens} tokens`);
        const reused = shared.map((r) => r.done!.cachedTokens).sort((a, b) => a - b);
        assert.ok(reused[0]! < openingTokens, `the first request evaluates the opening: ${reused}`);
        assert.ok(
            reused.slice(1).every((n) => n >= openingTokens - 1),
            `the others restore it into their own slots: ${reused}`
        );
        // Another key shares nothing of it.
        const other = await runGeneration(runner, prompts[0]!, s, undefined, "another key");
        assert.equal(other.done?.cachedTokens, 0);
        assert.equal(other.text, plain[0]);
    });

    it("stops decoding when the signal fires, and frees the server's slot", async () => {
        const controller = new AbortController();
        let pieces = 0;
        const tokens = await runner.tokenize("Once upon a time");
        for await (const event of runner.generate({ promptTokens: tokens, sampling: sampling({ maxTokens: 400, ignoreEos: true }) }, controller.signal)) {
            if (event.type === "text" && ++pieces === 5) controller.abort();
            assert.notEqual(event.type, "done", "an aborted generation does not finish");
        }
        assert.ok(pieces <= 6);
        const url = (runner as LlamaServerRunner).url;
        let busy = -1;
        for (let i = 0; i < 100; i++) {
            const slots = (await (await fetch(`${url}/slots`)).json()) as Array<{ is_processing: boolean }>;
            busy = slots.filter((s) => s.is_processing).length;
            if (busy === 0) break;
            await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(busy, 0, "llama-server released the slot");
    });

    it("reports CPU honestly: no accelerator memory and no offloaded layers", () => {
        const r = runner.resources();
        if (r.backend === "cpu") {
            assert.equal(r.acceleratorBytes, 0);
            assert.equal(r.gpuLayers, 0);
        }
        assert.ok(r.totalBytes >= 1_171_200, "at least the weights");
    });

    for (const kind of ["corrupt", "truncated", "badOffsets"] as const) {
        it(`refuses a ${kind} model file with a clear error and keeps working`, async () => {
            const files = writeBrokenModels(modelPath, mkdtempSync(path.join(tmp, "broken-")));
            await assert.rejects(
                engine.load({ id: kind, path: files[kind], options: options({ parallel: 1, contextSize: 256 }) }),
                (e: unknown) => e instanceof Error && e.message.length > 0
            );
            const { text } = await runGeneration(runner, "Once upon a time", sampling({ maxTokens: 5 }));
            assert.equal(text, ", there was a little");
        });
    }

    it("reports a model the child refuses at load with llama.cpp's reason, and keeps working", async () => {
        const started = Date.now();
        await assert.rejects(
            engine.load({ id: "unknown-arch", path: unknownArchitectureModel(tmp), options: options({ parallel: 1, contextSize: 256 }) }),
            (e: unknown) => e instanceof QuandexError && e.code === "model_unavailable" && /exited with code \d+/.test(e.message) && /architecture|load/i.test(e.message)
        );
        assert.ok(Date.now() - started < 30_000);
        const { text } = await runGeneration(runner, "Once upon a time", sampling({ maxTokens: 5 }));
        assert.equal(text, ", there was a little");
    });

    it("refuses gpu: true when the binary has no usable GPU", async (t) => {
        if (engine.info().backend !== "cpu") return t.skip(allowedSkip("this binary has a GPU back end, so gpu: true is usable here"));
        await assert.rejects(
            engine.load({ id: "x", path: modelPath, options: { contextSize: 256, parallel: 1, gpu: true, threads: 1 } }),
            (e: unknown) => e instanceof QuandexError && /gpu: true/.test(e.message)
        );
    });

    it("ends an in-flight generation with model_unavailable when the child is killed, and tells the listener", async () => {
        const victim = (await engine.load({ id: "victim", path: modelPath, options: options({ parallel: 2 }) })) as LlamaServerRunner;
        const exits: string[] = [];
        victim.onExit((reason) => exits.push(reason));
        const pid = victim.pid!;
        assert.ok(pid > 0 && isAlive(pid));
        const tokens = await victim.tokenize("Once upon a time");
        let pieces = 0;
        const started = Date.now();
        await assert.rejects(
            (async () => {
                for await (const event of victim.generate({ promptTokens: tokens, sampling: sampling({ maxTokens: 450, ignoreEos: true }) }, new AbortController().signal)) {
                    if (event.type === "text" && ++pieces === 3) process.kill(pid, "SIGKILL");
                }
            })(),
            (e: unknown) => e instanceof QuandexError && e.code === "model_unavailable" && /SIGKILL/.test(e.message)
        );
        assert.ok(Date.now() - started < 10_000, "no hang");
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(exits.length, 1);
        assert.match(exits[0]!, /SIGKILL/);
        await assert.rejects(victim.tokenize("again"), (e: unknown) => e instanceof QuandexError && e.code === "model_unavailable");
        // The other model did not notice.
        const { text } = await runGeneration(runner, "Once upon a time", sampling({ maxTokens: 5 }));
        assert.equal(text, ", there was a little");
    });

    it("stops the child and its watchdog on dispose", async () => {
        const extra = (await engine.load({ id: "extra", path: modelPath, options: options({ parallel: 1, contextSize: 256 }) })) as LlamaServerRunner;
        const pid = extra.pid!;
        assert.ok(isAlive(pid));
        await extra.dispose();
        assert.equal(isAlive(pid), false);
        assert.deepEqual(
            childrenOf(process.pid).filter((p) => p === pid),
            []
        );
    });

    it("never fails a request because of what a random-weight model generates", async () => {
        const synthetic = await makeSyntheticModel({ ...syntheticModelPresets.tiny, std: 0.5, outPath: path.join(tmp, "random-tiny.gguf"), seed: 3 });
        const random = await engine.load({ id: "random", path: synthetic.path, options: options({ parallel: 2, contextSize: 512 }) });
        try {
            let replaced = 0;
            for (const seed of [1, 2, 3, 4]) {
                const { text, done } = await runGeneration(random, "Once upon a time", sampling({ temperature: 1.5, topK: 0, topP: 1, seed, maxTokens: 300, ignoreEos: true }));
                assert.equal(done?.completionTokens, 300);
                assert.equal(typeof text, "string");
                replaced += [...text].filter((c) => c === "\uFFFD").length;
            }
            // Not required, but shows the test reached the case it is about: invalid UTF-8 bytes.
            if (replaced === 0) console.log("# note: the random model produced no invalid UTF-8 this time");
        } finally {
            await random.dispose();
        }
    });
});
