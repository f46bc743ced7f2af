import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { ModelMetrics, percentile } from "../src/metrics/ModelMetrics.js";
import { ModelRegistry, ModelRegistryError } from "../src/registry/ModelRegistry.js";
import { StopSequenceMatcher } from "../src/StopSequenceMatcher.js";
import { childProcessThreads, maxAutoThreads, perBatchThreads } from "../src/system/threadPolicy.js";
import { readTemperature } from "../src/system/readTemperature.js";
import { TokenTextDecoder } from "../src/TokenTextDecoder.js";

const defaults = { contextSize: 128, parallel: 2, gpu: "auto" as const, threads: 1 };

describe("StopSequenceMatcher", () => {
    it("stops at a sequence split across pieces and never emits any of it", () => {
        const m = new StopSequenceMatcher(["THE END"]);
        assert.deepEqual(m.push("and so TH"), { emit: "and so ", stopped: false });
        assert.deepEqual(m.push("E EN"), { emit: "", stopped: false });
        assert.deepEqual(m.push("D and more"), { emit: "", stopped: true });
    });
    it("releases held text that turned out not to be a stop", () => {
        const m = new StopSequenceMatcher(["\n\n"]);
        assert.deepEqual(m.push("a\n"), { emit: "a", stopped: false });
        assert.deepEqual(m.push("b"), { emit: "\nb", stopped: false });
        assert.equal(m.flush(), "");
    });
    it("picks the earliest of several stops", () => {
        const m = new StopSequenceMatcher(["zz", "b"]);
        assert.deepEqual(m.push("abzz"), { emit: "a", stopped: true });
    });
});

describe("TokenTextDecoder", () => {
    it("holds a split multi-byte character until it is complete", () => {
        // Tokens 1 and 2 are the two halves of "é" (0xC3 0xA9); token 3 is "x".
        const bytes: Record<number, number[]> = { 1: [0xc3], 2: [0xa9], 3: [0x78] };
        const decoder = new TokenTextDecoder((tokens) => Buffer.from(tokens.flatMap((t) => bytes[t] ?? [])).toString("utf8"));
        assert.equal(decoder.push(1), "");
        assert.equal(decoder.push(2), "é");
        assert.equal(decoder.push(3), "x");
    });
});

describe("ModelMetrics", () => {
    it("reports a 60 s window: rate, latency percentiles and error ratio", () => {
        let now = 0;
        const metrics = new ModelMetrics(() => now);
        for (let i = 1; i <= 10; i++) metrics.record(i * 10, i === 10, { promptTokens: 7, completionTokens: 5, cachedTokens: 3 });
        let s = metrics.snapshot();
        assert.equal(s.requestsPerSecond, 10 / 60);
        assert.equal(s.p50LatencyMs, 50);
        assert.equal(s.p95LatencyMs, 100);
        assert.equal(s.errorRatio, 0.1);
        assert.equal(s.outputTokensPerSecond, 50 / 60);
        now = 61_000;
        s = metrics.snapshot();
        assert.equal(s.requestsPerSecond, 0);
        assert.equal(s.averageLatencyMs, null);
        assert.equal(s.requestsTotal, 10, "totals outlive the window");
        assert.equal(s.promptTokensTotal, 70);
        assert.equal(s.cachedPromptTokensTotal, 30);
    });
    it("percentile uses nearest rank", () => {
        assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
        assert.equal(percentile([], 0.5), null);
    });
});

describe("ModelRegistry", () => {
    const dir = (): string => mkdtempSync(path.join(os.tmpdir(), "qdx-reg-"));
    const touch = (d: string, name: string): string => {
        const file = path.join(d, name);
        writeFileSync(file, "x");
        return file;
    };

    it("lists every gguf by stem, skips mmproj files and later shards, and sees new files without a restart", () => {
        const d = dir();
        touch(d, "llama-3.2.gguf");
        touch(d, "mmproj-llama.gguf");
        touch(d, "big-00001-of-00002.gguf");
        touch(d, "big-00002-of-00002.gguf");
        touch(d, "notes.txt");
        const registry = new ModelRegistry({ modelsDir: d, configured: [], defaults });
        assert.deepEqual(
            registry
                .list()
                .map((m) => m.id)
                .sort(),
            ["big", "llama-3.2"]
        );
        assert.equal(registry.resolve("big")?.path, path.join(d, "big-00001-of-00002.gguf"));
        touch(d, "new.model.v2.gguf");
        assert.equal(registry.resolve("new.model.v2")?.id, "new.model.v2");
    });

    it("lists a new file once the directory watcher reports it, with no stat per listing", async () => {
        const d = dir();
        touch(d, "a.gguf");
        const registry = new ModelRegistry({ modelsDir: d, configured: [], defaults, rescanIntervalMs: 3_600_000 });
        try {
            assert.deepEqual(
                registry.list().map((m) => m.id),
                ["a"]
            );
            touch(d, "b.gguf");
            const deadline = Date.now() + 5_000;
            while (registry.list().length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
            assert.deepEqual(
                registry.list().map((m) => m.id),
                ["a", "b"]
            );
        } finally {
            registry.dispose();
        }
    });

    it("keeps watching a models directory that was removed and made again", async () => {
        const d = dir();
        touch(d, "a.gguf");
        const registry = new ModelRegistry({ modelsDir: d, configured: [], defaults, rescanIntervalMs: 3_600_000 });
        const until = async (ids: string[]): Promise<void> => {
            const deadline = Date.now() + 5_000;
            while (
                registry
                    .list()
                    .map((m) => m.id)
                    .join() !== ids.join() &&
                Date.now() < deadline
            )
                await new Promise((resolve) => setTimeout(resolve, 5));
            assert.deepEqual(
                registry.list().map((m) => m.id),
                ids
            );
        };
        try {
            rmSync(d, { recursive: true });
            await until([]);
            mkdirSync(d);
            touch(d, "b.gguf");
            await until(["b"]);
            touch(d, "c.gguf");
            await until(["b", "c"]);
        } finally {
            registry.dispose();
        }
    });

    it("resolves aliases and applies config options over defaults", () => {
        const d = dir();
        const file = touch(d, "x.gguf");
        const registry = new ModelRegistry({
            modelsDir: d,
            configured: [{ id: "tiny", path: file, aliases: ["llama-3.2"], options: { parallel: 8 }, preload: true }],
            defaults
        });
        const def = registry.resolve("llama-3.2");
        assert.equal(def?.id, "tiny");
        assert.equal(def?.options.parallel, 8);
        assert.equal(def?.options.contextSize, 128);
        assert.deepEqual(
            registry.list().map((m) => m.id),
            ["tiny"],
            "the configured file is not listed twice"
        );
    });

    it("stops the boot when an alias collides with an id", () => {
        const d = dir();
        touch(d, "other.gguf");
        const make = (aliases: string[]) => () =>
            new ModelRegistry({ modelsDir: d, configured: [{ id: "a", path: path.join(d, "a.gguf"), aliases, options: {}, preload: false }], defaults });
        assert.throws(make(["a"]), (e: unknown) => e instanceof ModelRegistryError && e.key === "models[0].aliases[0]");
        assert.throws(make(["other"]), (e: unknown) => e instanceof ModelRegistryError && /other/.test(e.message));
    });
});

describe("readTemperature", () => {
    it("reads hwmon temp1_input in millidegrees", async () => {
        const root = mkdtempSync(path.join(os.tmpdir(), "qdx-sys-"));
        mkdirSync(path.join(root, "class/hwmon/hwmon0"), { recursive: true });
        writeFileSync(path.join(root, "class/hwmon/hwmon0/temp1_input"), "45500\n");
        assert.equal(await readTemperature(root), 45.5);
    });
    it("falls back to thermal zones, and gives null when nothing is readable", async () => {
        const root = mkdtempSync(path.join(os.tmpdir(), "qdx-sys-"));
        assert.equal(await readTemperature(root), null);
        mkdirSync(path.join(root, "class/thermal/thermal_zone0"), { recursive: true });
        writeFileSync(path.join(root, "class/thermal/thermal_zone0/temp"), "38000");
        assert.equal(await readTemperature(root), 38);
    });
});

describe("thread policy", () => {
    const MB = 1_000_000;
    it("in-process: one thread for light batches, up to every core but one (every core on 2) for heavy ones", () => {
        const tiny = perBatchThreads(1.2 * MB, 2);
        assert.equal(tiny.max, 1, "no idle second worker spinning for a model that never needs it");
        assert.equal(tiny.forBatch(1), 1);
        assert.equal(tiny.forBatch(16), 1, "the test model is fastest on one thread at any batch");
        const synthetic = perBatchThreads(171 * MB, 2);
        assert.equal(synthetic.max, 2);
        assert.equal(synthetic.forBatch(1), 1);
        assert.equal(synthetic.forBatch(2), 1);
        assert.equal(synthetic.forBatch(8), 2);
        assert.equal(synthetic.forBatch(64), 2, "a prompt is a heavy batch");
        const big = perBatchThreads(4_000 * MB, 16);
        assert.equal(big.max, 15);
        assert.equal(big.forBatch(1), 15);
        assert.equal(perBatchThreads(4_000 * MB, 1).forBatch(8), 1);
        assert.equal(perBatchThreads(171 * MB, 2, 4).max, 1, "a context whose batches stay light gets one thread");
    });

    it("a llama-server child gets every core, except for models too small to share", () => {
        assert.equal(childProcessThreads(171 * MB, 2), 2);
        assert.equal(childProcessThreads(1.2 * MB, 2), 1);
        assert.equal(maxAutoThreads("child-process", 8), 8);
        assert.equal(maxAutoThreads("in-process", 8), 7);
        assert.equal(maxAutoThreads("in-process", 2), 2);
    });
});
