import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { getLlama, LlamaCompletion, LlamaLogLevel, readGgufFileInfo, type Llama } from "node-llama-cpp";
import {
    countParameters,
    float16BitsToNumber,
    float32ToFloat16,
    GgmlType,
    GgufValueType,
    makeSyntheticModel,
    readGgufHeader,
    syntheticModelPresets,
    writeGgufFile,
    type GgufValue
} from "@quandex/test-support";
import { distribution, percentile, summarizeLevel, type LevelMetrics, type RequestRecord } from "../src/metrics.js";
import { toYaml } from "../src/process/quandexServer.js";
import type { ModelRun } from "../src/RunResult.js";
import { runLoad } from "../src/runLoad.js";
import { engineTargets, threadTargets } from "../src/targets.js";

let dir: string;
before(async () => {
    dir = await mkdtemp(join(tmpdir(), "quandex-bench-test-"));
});
after(async () => {
    await rm(dir, { recursive: true, force: true });
});

describe("float16", () => {
    test("encodes normals, subnormals, ties, overflow and specials", () => {
        const input = Float32Array.from([0, -0, 1, -2, 0.02, 65504, 65520, 1e-7, 2 ** -24, 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11, Infinity, NaN]);
        const halves = new Uint16Array(input.length);
        float32ToFloat16(input, halves);
        assert.deepEqual([...halves.slice(0, 4)], [0x0000, 0x8000, 0x3c00, 0xc000]);
        assert.ok(Math.abs(float16BitsToNumber(halves[4]!) - 0.02) < 0.02 * 2 ** -10); // within half an ulp
        assert.equal(halves[5], 0x7bff); // largest finite half
        assert.equal(halves[6], 0x7c00); // rounds to Inf
        assert.equal(float16BitsToNumber(halves[7]!), 2 ** -24 * Math.round(1e-7 / 2 ** -24)); // subnormal
        assert.equal(halves[8], 0x0001); // smallest subnormal
        assert.equal(halves[9], 0x0000); // a tie with zero rounds to even
        assert.equal(halves[10], 0x3c00); // 1 + half an ulp: tie, rounds to even (down)
        assert.equal(halves[11], 0x3c02); // 1 + 1.5 ulp: tie, rounds to even (up)
        assert.equal(halves[12], 0x7c00);
        assert.ok(Number.isNaN(float16BitsToNumber(halves[13]!)));
    });
});

describe("GGUF writer and reader", () => {
    test("round-trips typed metadata and tensor infos", async () => {
        const metadata = new Map<string, GgufValue>([
            ["general.architecture", { type: GgufValueType.String, value: "llama" }],
            ["a.u8", { type: GgufValueType.Uint8, value: 200 }],
            ["a.i32", { type: GgufValueType.Int32, value: -5 }],
            ["a.f32", { type: GgufValueType.Float32, value: 0.5 }],
            ["a.bool", { type: GgufValueType.Bool, value: true }],
            ["a.u64", { type: GgufValueType.Uint64, value: 2n ** 40n }],
            ["a.f64", { type: GgufValueType.Float64, value: Math.PI }],
            ["a.strings", { type: GgufValueType.Array, itemType: GgufValueType.String, value: ["x", "ü", ""] }],
            ["a.ints", { type: GgufValueType.Array, itemType: GgufValueType.Int32, value: [1, -2, 3] }]
        ]);
        const path = join(dir, "roundtrip.gguf");
        const { bytes } = await writeGgufFile(path, {
            metadata,
            tensors: [
                { name: "t16", dimensions: [3, 5], type: GgmlType.F16, fill: (chunk) => chunk.fill(1) },
                { name: "t32", dimensions: [7], type: GgmlType.F32, fill: (chunk) => chunk.fill(2) }
            ],
            chunkElements: 4 // several chunks per tensor
        });
        const header = readGgufHeader(path);
        assert.equal(header.version, 3);
        assert.deepEqual(header.metadata, metadata);
        assert.deepEqual(
            header.tensors.map((t) => [t.name, t.dimensions, t.type, t.offset]),
            [
                ["t16", [3, 5], GgmlType.F16, 0n],
                ["t32", [7], GgmlType.F32, 32n] // 30 bytes, aligned up to 32
            ]
        );
        assert.equal(bytes % 32, 0);
    });
});

describe("synthetic model", () => {
    let llama: Llama;
    before(async () => {
        llama = await getLlama({ build: "never", gpu: false, maxThreads: 0, progressLogs: false, logLevel: LlamaLogLevel.error });
    });
    after(async () => {
        await llama.dispose();
    });

    test("the 85m preset has about 85.7M parameters", () => {
        assert.equal(countParameters(syntheticModelPresets["85m"], 512), 85_740_288);
    });

    test("a tiny model loads in node-llama-cpp and generates tokens", async () => {
        const model = await makeSyntheticModel({ dim: 64, layers: 2, heads: 4, ffn: 128, outPath: join(dir, "tiny.gguf"), seed: 7 });
        assert.equal(model.reused, false);
        assert.equal(model.parameters, countParameters({ dim: 64, layers: 2, heads: 4, kvHeads: 4, ffn: 128 }, 512));

        const info = await readGgufFileInfo(model.path);
        assert.equal(info.metadata.general.architecture, "llama");
        const arch = info.architectureMetadata as { embedding_length?: number; block_count?: number; rope?: { dimension_count?: number } };
        assert.equal(arch.embedding_length, 64);
        assert.equal(arch.block_count, 2);
        assert.equal(arch.rope?.dimension_count, 16);
        assert.equal(info.metadata.tokenizer?.ggml.tokens.length, 512);

        const again = await makeSyntheticModel({ dim: 64, layers: 2, heads: 4, ffn: 128, outPath: join(dir, "tiny.gguf"), seed: 7 });
        assert.equal(again.reused, true);

        const loaded = await llama.loadModel({ modelPath: model.path });
        const context = await loaded.createContext({ threads: 1, contextSize: 128 });
        const sequence = context.getSequence();
        const tokens: number[] = [];
        const completion = new LlamaCompletion({ contextSequence: sequence });
        await completion.generateCompletion("Once upon a time", { maxTokens: 16, temperature: 0, onToken: (t) => tokens.push(...t) });
        assert.ok(sequence.tokenMeter.usedOutputTokens >= 1, "no token generated");
        // NaN logits make greedy sampling return token 0 (<unk>) every time.
        assert.ok(tokens.length === 0 || tokens.some((token) => token !== 0), `degenerate output ${JSON.stringify(tokens)}`);
        await context.dispose();
        await loaded.dispose();
    });
});

describe("serving metrics", () => {
    test("percentile interpolates like numpy", () => {
        assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
        assert.ok(Math.abs(percentile([1, 2, 3, 4], 99) - 3.97) < 1e-12);
        assert.equal(percentile([5], 99), 5);
        const d = distribution([3, 1, 2]);
        assert.deepEqual({ ...d, p99: Math.round(d.p99 * 1e9) / 1e9 }, { count: 3, mean: 2, p50: 2, p99: 2.98, min: 1, max: 3 });
    });

    test("TTFT, TPOT, ITL, e2e and throughput from synthetic timestamps", () => {
        const records: RequestRecord[] = [
            // TTFT 10, chunks every 5 ms, e2e 30, 5 tokens: TPOT (30-10)/4 = 5
            { start: 0, chunkTimes: [10, 15, 20, 25, 30], end: 30, outputTokens: 5 },
            // TTFT 20, two chunks carrying 2 tokens each (ITL 10), e2e 30, 4 tokens: TPOT (30-20)/3
            { start: 10, chunkTimes: [30, 40], end: 40, outputTokens: 4 },
            // failed: not scored
            { start: 0, chunkTimes: [], end: 50, outputTokens: 0, error: "HTTP 503" }
        ];
        const level = summarizeLevel(records, { concurrency: 2, requestRate: null, expectedOutputTokens: 5 });
        assert.equal(level.completed, 2);
        assert.equal(level.failed, 1);
        assert.deepEqual(level.errors, ["HTTP 503"]);
        assert.equal(level.wrongLength, 1);
        assert.deepEqual([level.ttftMs.mean, level.ttftMs.p50], [15, 15]);
        assert.equal(level.tpotMs.mean, (5 + 10 / 3) / 2);
        assert.deepEqual([level.itlMs.count, level.itlMs.mean, level.itlMs.max], [5, 6, 10]);
        assert.deepEqual([level.e2eMs.mean, level.e2eMs.min, level.e2eMs.max], [30, 30, 30]);
        assert.equal(level.durationS, 0.05); // 0 → 50 ms, failed request included
        assert.equal(level.totalOutputTokens, 9);
        assert.equal(level.outputThroughput, 180);
        assert.equal(level.requestThroughput, 40);
    });

    test("a request with one output token has no TPOT", () => {
        const level = summarizeLevel([{ start: 0, chunkTimes: [4], end: 5, outputTokens: 1 }], { concurrency: 1, requestRate: null });
        assert.equal(level.tpotMs.count, 0);
        assert.equal(level.ttftMs.p50, 4);
    });
});

describe("load generator", () => {
    test("keeps at most `concurrency` requests in flight and gives each a distinct slot", async () => {
        let inFlight = 0;
        let peak = 0;
        const slotsInUse = new Set<number>();
        const records = await runLoad({ concurrency: 3, requests: 10 }, async (index, slot) => {
            assert.ok(!slotsInUse.has(slot), `slot ${slot} handed out twice`);
            slotsInUse.add(slot);
            inFlight++;
            peak = Math.max(peak, inFlight);
            await new Promise((resolve) => setTimeout(resolve, 2 + (index % 3)));
            inFlight--;
            slotsInUse.delete(slot);
            return { start: index, chunkTimes: [index + 1], end: index + 2, outputTokens: 1 };
        });
        assert.equal(peak, 3);
        assert.deepEqual(
            records.map((record) => record.start),
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
        );
    });
});

describe("config YAML", () => {
    test("nested objects and lists of objects", () => {
        assert.equal(
            toYaml({ server: { max_queue: 256, limits: { default_daily: null } }, models: [{ id: "m", path: "/a b.gguf", preload: true }] }),
            'server:\n  max_queue: 256\n  limits:\n    default_daily: null\nmodels:\n  - id: "m"\n    path: "/a b.gguf"\n    preload: true\n'
        );
    });
});

describe("issue #8 and thread targets", () => {
    const level = (concurrency: number, outputThroughput: number, ttftP50 = 1): LevelMetrics => ({
        ...summarizeLevel([{ start: 0, chunkTimes: [ttftP50], end: 10, outputTokens: 2 }], { concurrency, requestRate: null }),
        outputThroughput
    });
    const run = (over: Partial<ModelRun>): ModelRun => ({
        key: "85m",
        id: "synthetic-85m",
        path: "/m.gguf",
        description: "",
        fileBytes: 1,
        plan: { concurrencyLevels: [1, 8], maxTokens: 32, requestsPerSlot: 2, minRequests: 4, requestRate: null },
        threads: 1,
        contextSize: 512,
        parallel: 8,
        server: null,
        baseline: null,
        ...over
    });

    test("engines: batched-bench bound on 85m, single stream and TTFT against the direct server", () => {
        const rows = engineTargets(
            run({
                llamaServer: {
                    binary: "/bin/llama-server",
                    threads: 2,
                    quandex: { levels: [level(1, 96, 3), level(8, 300)], idleRssBytes: 1, childIdleRssBytes: 1, command: "", configYaml: "" },
                    direct: { levels: [level(1, 100, 2), level(8, 320)], command: "" },
                    // 8 × 32 generated over 0.1 + 0.75 s = 301.2 tok/s for the workload; S_TG 8 × 32 / 0.75 = 341.3.
                    batchedBench: { command: "", threads: 2, rows: [{ pl: 8, pp: 8, tg: 32, speedPp: 640, speedTg: 341.3, speed: 376, tPpS: 0.1, tTgS: 0.75 }] },
                    notes: []
                }
            })
        );
        assert.deepEqual(
            rows.map((row) => [row.group, row.pass]),
            [
                ["engines", true], // 300 / 301.2 = 99.6%, though 87.9% of S_TG
                ["engines", true], // 96 / 100
                ["engines", true] // 3 - 2 = 1 ms
            ]
        );
        assert.match(rows[0]!.measured, /99\.6%.*2 threads.*S_TG 341\.3 tok\/s: 87\.9%/);
        const slow = engineTargets(
            run({
                llamaServer: {
                    binary: "/bin/llama-server",
                    threads: 2,
                    quandex: { levels: [level(8, 250)], idleRssBytes: 1, childIdleRssBytes: 1, command: "", configYaml: "" },
                    direct: null,
                    batchedBench: { command: "", threads: 2, rows: [{ pl: 8, pp: 8, tg: 32, speedPp: 640, speedTg: 341.3, speed: 376, tPpS: 0.1, tTgS: 0.75 }] },
                    notes: []
                }
            })
        );
        assert.equal(slow[0]!.pass, false); // 250 / 301.2 = 83.0%
        assert.deepEqual(engineTargets(run({ key: "tiny" })), []);
    });

    test("threads: the default against the best manual count at every swept level", () => {
        const sweep = (defaults: [number, number]) =>
            threadTargets(
                run({
                    threadSweep: [
                        {
                            engine: "node-llama-cpp",
                            concurrencyLevels: [1, 8],
                            points: [
                                { threads: 1, resolvedThreads: 1, levels: [level(1, 100), level(8, 80)] },
                                { threads: 2, resolvedThreads: 2, levels: [level(1, 50), level(8, 120)] },
                                { threads: null, resolvedThreads: 1, levels: [level(1, defaults[0]), level(8, defaults[1])] }
                            ]
                        }
                    ]
                })
            )[0]!;
        assert.equal(sweep([95, 110]).pass, true); // 95% of 100 at 1 thread, 91.7% of 120 at 2 threads
        const failing = sweep([100, 100]);
        assert.equal(failing.pass, false); // 83.3% of 120
        assert.match(failing.measured, /c=8: default \(1\) 100\.0 vs 120\.0 tok\/s at 2 = 83\.3%/);
    });
});
