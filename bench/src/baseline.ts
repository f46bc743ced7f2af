/**
 * The in-process baseline: the stock node-llama-cpp path (`LlamaCompletion.generateCompletion` on one
 * context with `sequences` sequences, a fresh sequence per request) with the settings the server runs
 * the model with. It scores its runs with the same metric code as the HTTP driver, so the ratios
 * compare like with like: what the server adds is HTTP, JSON, SSE and its own scheduling.
 *
 * CLI: `node --import tsx bench/src/baseline.ts --model PATH [--threads 1] [--context-size 512]
 * [--sequences 16] [--concurrency 1,4,8,16] [--max-tokens 128] [--requests-per-slot 4] [--min-requests 8]
 * [--request-rate R] [--json-out FILE]`. With `--ipc` (started by `fork`), it loads the model, sends
 * `{type: "ready", settings}` and then runs one level per `{type: "level", concurrency}` message,
 * answering `{type: "level", level}`, until `{type: "close"}`: the orchestrator interleaves its levels
 * with the server's, so slow drift of a shared machine hits both sides alike.
 */
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { getLlama, LlamaCompletion, LlamaLogLevel, TokenBias, type Llama, type LlamaContext, type LlamaModel, type Token } from "node-llama-cpp";
import { describeBaselineSettings, describeLevel, levelsTable } from "./format.js";
import { summarizeLevel, type LevelMetrics, type RequestRecord } from "./metrics.js";
import { isMainModule } from "./paths.js";
import { benchSeed, promptFor } from "./prompts.js";
import { requestsAtLevel, runLoad, warmUp, type LoadPlan } from "./runLoad.js";

export type BaselineOptions = {
    modelPath: string;
    /** Threads of the context, as in the server's model config. Always explicit: the default (4) is catastrophic on 2 cores. */
    threads: number;
    /** Per-sequence context size, as the server's `context_size`. */
    contextSize: number;
    /** Sequences of the context, as the server's `parallel`; must be at least the highest concurrency level. */
    sequences: number;
    plan: LoadPlan;
};

export type BaselineSettings = {
    modelPath: string;
    threads: number;
    contextSize: number;
    sequences: number;
    maxTokens: number;
    temperature: 0;
    repeatPenalty: false;
    /** How end-of-generation tokens are kept from being sampled (the equivalent of the server's ignore_eos). */
    ignoreEos: string;
    buildType: "localBuild" | "prebuilt";
    llamaCppRelease: string;
    nodeLlamaCppVersion: string;
    loadMs: number;
};

export type BaselineResult = { settings: BaselineSettings; levels: LevelMetrics[] };

/** A loaded baseline: one model and context, ready to run load levels. Close it to free the model. */
export class Baseline {
    private constructor(
        readonly settings: BaselineSettings,
        private readonly llama: Llama,
        private readonly model: LlamaModel,
        private readonly context: LlamaContext,
        private readonly tokenBias: TokenBias,
        private readonly plan: LoadPlan
    ) {}

    /** Loads the model, creates the context and runs the plan's unscored warm-up completions. */
    static async open({ modelPath, threads, contextSize, sequences, plan }: BaselineOptions): Promise<Baseline> {
        const highest = Math.max(...plan.concurrencyLevels);
        if (highest > sequences) throw new Error(`concurrency ${highest} needs at least ${highest} sequences, got ${sequences}`);
        // maxThreads 0: each context gets exactly the threads it asks for, not a share of a global pool.
        const llama = await getLlama({ build: "never", gpu: false, maxThreads: 0, progressLogs: false, logLevel: LlamaLogLevel.error });
        const loadStarted = performance.now();
        const model = await llama.loadModel({ modelPath });
        const context = await model.createContext({ sequences, contextSize, threads });
        const settings: BaselineSettings = {
            modelPath,
            threads,
            contextSize,
            sequences,
            maxTokens: plan.maxTokens,
            temperature: 0,
            repeatPenalty: false,
            ignoreEos: "TokenBias with -Infinity on the EOG tokens (set through its internal map: TokenBias.set skips EOG tokens)",
            buildType: llama.buildType,
            llamaCppRelease: `${llama.llamaCppRelease.repo}@${llama.llamaCppRelease.release}`,
            nodeLlamaCppVersion: await nodeLlamaCppVersion(),
            loadMs: performance.now() - loadStarted
        };
        const baseline = new Baseline(settings, llama, model, context, noEogBias(model), plan);
        await warmUp(plan, (index, maxTokens) => baseline.complete(index, maxTokens), "baseline");
        return baseline;
    }

    async runLevel(concurrency: number): Promise<LevelMetrics> {
        const { plan } = this;
        const before = process.cpuUsage();
        const records = await runLoad({ concurrency, requests: requestsAtLevel(plan, concurrency), requestRate: plan.requestRate, seed: concurrency }, (index) =>
            this.complete(index, plan.maxTokens)
        );
        const cpu = process.cpuUsage(before);
        // One process generates and consumes: all of its CPU is the generator's.
        return {
            ...summarizeLevel(records, { concurrency, requestRate: plan.requestRate, expectedOutputTokens: plan.maxTokens }),
            cpuMs: { generator: (cpu.user + cpu.system) / 1000, client: null }
        };
    }

    async close(): Promise<void> {
        await this.context.dispose();
        await this.model.dispose();
        await this.llama.dispose();
    }

    private async complete(index: number, maxTokens: number): Promise<RequestRecord> {
        const sequence = this.context.getSequence();
        const completion = new LlamaCompletion({ contextSequence: sequence });
        const chunkTimes: number[] = [];
        let emittedTokens = 0;
        const start = performance.now();
        try {
            // The server's prompt tokens (`model.tokenize(text)`, BOS added by LlamaCompletion as the server adds it): given the
            // string, LlamaCompletion would tokenize it without the leading space, and the two would generate different text.
            const { metadata } = await completion.generateCompletionWithMeta(this.model.tokenize(promptFor(index)), {
                maxTokens,
                temperature: 0,
                seed: benchSeed,
                repeatPenalty: false,
                tokenBias: this.tokenBias,
                onTextChunk: (text) => {
                    if (text !== "") chunkTimes.push(performance.now());
                },
                onToken: (tokens) => {
                    emittedTokens += tokens.length;
                }
            });
            const end = performance.now();
            // LlamaCompletion holds back tokens that end in an incomplete UTF-8 sequence and drops them
            // at the end, so `onToken` can undercount; a "maxTokens" stop means exactly maxTokens.
            const outputTokens = metadata.stopReason === "maxTokens" ? maxTokens : emittedTokens;
            return { start, chunkTimes, end, outputTokens };
        } catch (error) {
            return { start, chunkTimes, end: performance.now(), outputTokens: emittedTokens, error: String(error) };
        } finally {
            completion.dispose();
            await sequence.dispose(); // returns the sequence id to the context before the slot is reused
        }
    }
}

/** Opens a baseline, runs every level of the plan in order and closes it. */
export async function runBaseline(options: BaselineOptions, log: (line: string) => void = () => {}): Promise<BaselineResult> {
    const baseline = await Baseline.open(options);
    try {
        log(describeBaselineSettings(baseline.settings));
        const levels: LevelMetrics[] = [];
        for (const concurrency of options.plan.concurrencyLevels) {
            const level = await baseline.runLevel(concurrency);
            log(describeLevel("baseline", level));
            levels.push(level);
        }
        return { settings: baseline.settings, levels };
    } finally {
        await baseline.close();
    }
}

/**
 * A token bias that keeps every end-of-generation token from being sampled, like llama.cpp's
 * `ignore_eos`. node-llama-cpp 3.21's `TokenBias.set` silently skips EOG tokens, so the entries go
 * into its internal map, which `LlamaContext` reads when it builds the sampler.
 */
function noEogBias(model: LlamaModel): TokenBias {
    const bias = new TokenBias(model.tokenizer);
    const biases: unknown = (bias as unknown as { _biases?: unknown })._biases;
    if (!(biases instanceof Map)) throw new Error("this node-llama-cpp's TokenBias has no internal _biases map; the baseline cannot ignore EOS");
    for (const token of [model.tokens.eos, model.tokens.eot]) {
        if (token != null) (biases as Map<Token, number>).set(token, -Infinity);
    }
    return bias;
}

async function nodeLlamaCppVersion(): Promise<string> {
    const packageJson = fileURLToPath(new URL("../package.json", import.meta.resolve("node-llama-cpp")));
    return (JSON.parse(await readFile(packageJson, "utf8")) as { version: string }).version;
}

/** Messages of the `--ipc` protocol. */
export type BaselineWorkerRequest = { type: "level"; concurrency: number } | { type: "close" };
export type BaselineWorkerReply = { type: "ready"; settings: BaselineSettings } | { type: "level"; level: LevelMetrics } | { type: "error"; message: string };

async function serveIpc(options: BaselineOptions): Promise<void> {
    const send = (reply: BaselineWorkerReply): void => void process.send!(reply);
    const baseline = await Baseline.open(options);
    send({ type: "ready", settings: baseline.settings });
    process.on("message", (request: BaselineWorkerRequest) => {
        if (request.type === "close") {
            void baseline.close().finally(() => process.disconnect());
            return;
        }
        baseline.runLevel(request.concurrency).then(
            (level) => send({ type: "level", level }),
            (error: unknown) => send({ type: "error", message: String(error) })
        );
    });
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            model: { type: "string" },
            threads: { type: "string", default: "1" },
            "context-size": { type: "string", default: "512" },
            sequences: { type: "string" },
            concurrency: { type: "string", default: "1,4,8,16" },
            "max-tokens": { type: "string", default: "128" },
            "requests-per-slot": { type: "string", default: "4" },
            "min-requests": { type: "string", default: "8" },
            "warmup-requests": { type: "string" },
            "request-rate": { type: "string" },
            "json-out": { type: "string" },
            ipc: { type: "boolean", default: false }
        }
    });
    if (values.model == null) throw new Error("--model PATH is required");
    const concurrencyLevels = values.concurrency.split(",").map((level) => Number.parseInt(level, 10));
    const options: BaselineOptions = {
        modelPath: values.model,
        threads: Number.parseInt(values.threads, 10),
        contextSize: Number.parseInt(values["context-size"], 10),
        sequences: values.sequences == null ? Math.max(...concurrencyLevels) : Number.parseInt(values.sequences, 10),
        plan: {
            concurrencyLevels,
            maxTokens: Number.parseInt(values["max-tokens"], 10),
            requestsPerSlot: Number.parseInt(values["requests-per-slot"], 10),
            minRequests: Number.parseInt(values["min-requests"], 10),
            requestRate: values["request-rate"] == null ? null : Number(values["request-rate"]),
            ...(values["warmup-requests"] != null && { warmupRequests: Number.parseInt(values["warmup-requests"], 10) })
        }
    };
    if (values.ipc) return serveIpc(options);
    const result = await runBaseline(options, (line) => console.log(line));
    console.log(levelsTable(result.levels));
    if (values["json-out"] != null) await writeFile(values["json-out"], JSON.stringify(result, null, 2));
}

if (isMainModule(import.meta.url)) {
    main().catch((error: unknown) => {
        console.error(error instanceof Error ? error.stack : error);
        process.exitCode = 1;
    });
}
