/**
 * The peer to beat: the same llama-server binary that Quandex's llama-server engine supervises, with
 * the same flags, started by the benchmark on its own port and driven directly with streaming
 * `POST /completion`, the way Quandex's engine drives its child (prompt as token ids with the model's
 * BOS, `stream`, `n_predict`, `cache_prompt`, `return_tokens`, the same sampling fields, a fresh
 * loopback connection per request). What Quandex adds in front of the child is then the difference.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { RequestRecord } from "../metrics.js";
import { summarizeLevel, type LevelMetrics } from "../metrics.js";
import { benchPrompts, benchSeed } from "../prompts.js";
import { descendantPids, freePort, measureCpu, readCmdline, startChildServer, stopChildServer, waitFor, type ChildServer } from "../process/childServer.js";
import { requestsAtLevel, runLoad, warmUp, type LoadPlan } from "../runLoad.js";
import { timedSseRequest } from "../http/timedSseRequest.js";

/**
 * llama-server's arguments as Quandex started its child, read from the child's `/proc/<pid>/cmdline`
 * (so the direct run cannot drift from what the engine passes), without `--host` and `--port`.
 * @throws when the Quandex server has no llama-server descendant.
 */
export function quandexChildArgs(quandexPid: number): { binary: string; args: string[]; pid: number } {
    for (const pid of descendantPids(quandexPid)) {
        let comm: string;
        try {
            comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
        } catch {
            continue;
        }
        if (comm !== "llama-server") continue;
        const argv = readCmdline(pid);
        if (argv == null || argv.length === 0) continue;
        const args: string[] = [];
        for (let i = 1; i < argv.length; i++) {
            if (argv[i] === "--host" || argv[i] === "--port") {
                i++;
                continue;
            }
            args.push(argv[i]!);
        }
        return { binary: argv[0]!, args, pid };
    }
    throw new Error(`the Quandex server (pid ${quandexPid}) has no llama-server child process`);
}

export type DirectLlamaServer = {
    origin: string;
    pid: number;
    command: string;
    stop(): Promise<void>;
};

/** Starts llama-server with `args` on a free loopback port, and waits until `/health` answers 200 (the model is loaded). */
export async function startDirectLlamaServer({
    binary,
    args,
    workDir,
    readyTimeoutMs = 180_000
}: {
    binary: string;
    args: string[];
    workDir: string;
    readyTimeoutMs?: number;
}): Promise<DirectLlamaServer> {
    const port = await freePort();
    const fullArgs = [...args, "--host", "127.0.0.1", "--port", String(port)];
    const server: ChildServer = startChildServer(fullArgs, { command: binary, logPath: join(workDir, "llama-server-direct.log"), cwd: workDir });
    const origin = `http://127.0.0.1:${port}`;
    try {
        await waitFor(server, "llama-server /health", async () => ((await fetch(`${origin}/health`)).ok ? true : undefined), readyTimeoutMs);
    } catch (error) {
        await stopChildServer(server);
        throw error;
    }
    return { origin, pid: server.child.pid!, command: [binary, ...fullArgs].join(" "), stop: () => stopChildServer(server) };
}

/** The sampling Quandex sends its child for a bench request (temperature 0, its default top-k/top-p, no penalties). */
function completionBody(prompt: readonly number[], maxTokens: number): Record<string, unknown> {
    return {
        prompt,
        n_predict: maxTokens,
        stream: true,
        cache_prompt: true,
        return_tokens: true,
        temperature: 0,
        top_k: 40,
        top_p: 0.95,
        min_p: 0,
        typical_p: 1,
        repeat_penalty: 1,
        repeat_last_n: 64,
        presence_penalty: 0,
        frequency_penalty: 0,
        dry_multiplier: 0,
        xtc_probability: 0,
        mirostat: 0,
        seed: benchSeed,
        ignore_eos: true,
        n_probs: 0,
        // Quandex's accept-anything output parser: without it, a random-weight model's invalid UTF-8 fails the request with 500.
        chat_parser: JSON.stringify({ parsers: [{ type: "epsilon" }], rules: {}, root: 0 })
    };
}

type CompletionChunk = { content?: string; stop?: boolean; tokens_predicted?: number; error?: { message?: string } };

/**
 * One streaming `/completion`, timed at the client like `streamGenerate`: each event with non-empty
 * `content`, and the final `stop: true` event (whose `tokens_predicted` is the output count), on a
 * connection of its own as Quandex's engine uses. Never throws.
 */
export function streamCompletion(origin: string, prompt: readonly number[], maxTokens: number): Promise<RequestRecord> {
    return timedSseRequest({
        url: new URL("/completion", origin),
        agent: false,
        headers: {},
        payload: Buffer.from(JSON.stringify(completionBody(prompt, maxTokens))),
        endedEarly: "stream closed without a stop event",
        onEvent(_event, json, stream) {
            if (json === undefined) return stream.finish("stream ended without a stop event");
            const chunk = json as CompletionChunk;
            if (chunk.error != null) return stream.finish(`llama-server error: ${chunk.error.message ?? JSON.stringify(chunk.error)}`);
            if ((chunk.content ?? "") !== "") stream.text();
            if (chunk.stop === true) {
                stream.outputTokens(chunk.tokens_predicted ?? 0);
                stream.finish();
            }
        }
    });
}

/** Load levels against a directly started llama-server, with the bench's prompts as token ids. */
export class DirectBench {
    private constructor(
        private readonly origin: string,
        private readonly prompts: readonly (readonly number[])[],
        private readonly plan: LoadPlan,
        private readonly pid: number
    ) {}

    /** Tokenizes the bench prompts as Quandex does (BOS where the model asks for it, special tokens as text) and sends the plan's warm-up requests. */
    static async open(origin: string, plan: LoadPlan, pid: number): Promise<DirectBench> {
        const prompts: number[][] = [];
        for (const text of benchPrompts) {
            const response = await fetch(`${origin}/tokenize`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({ content: text, add_special: true, parse_special: false })
            });
            if (!response.ok) throw new Error(`llama-server /tokenize answered ${response.status}`);
            prompts.push(((await response.json()) as { tokens: number[] }).tokens);
        }
        const bench = new DirectBench(origin, prompts, plan, pid);
        await warmUp(plan, (index, maxTokens) => streamCompletion(origin, prompts[index % prompts.length]!, maxTokens), "direct llama-server");
        return bench;
    }

    /** Mean prompt length in tokens (BOS included), for llama-batched-bench's `-npp`. */
    get meanPromptTokens(): number {
        return this.prompts.reduce((sum, tokens) => sum + tokens.length, 0) / this.prompts.length;
    }

    async runLevel(concurrency: number): Promise<LevelMetrics> {
        const { plan } = this;
        const {
            result: records,
            generator,
            client
        } = await measureCpu([this.pid], () =>
            runLoad({ concurrency, requests: requestsAtLevel(plan, concurrency), requestRate: plan.requestRate, seed: concurrency }, (index) =>
                streamCompletion(this.origin, this.prompts[index % this.prompts.length]!, plan.maxTokens)
            )
        );
        return { ...summarizeLevel(records, { concurrency, requestRate: plan.requestRate, expectedOutputTokens: plan.maxTokens }), cpuMs: { generator, client } };
    }
}
