/**
 * The HTTP driver: load levels of streaming `POST /v1/generate` against a running Quandex server,
 * scored with vLLM's serving metrics at the client (TTFT, TPOT, ITL, e2e; mean, p50, p99; req/s and
 * output tok/s). Every request is greedy (temperature 0), `ignore_eos`, fixed seed, fixed prompt set
 * and fixed `max_tokens`, so every level does the same work per request.
 *
 * CLI, against a server you started: `node --import tsx bench/src/serveBench.ts --model ID
 * [--base-url http://127.0.0.1:8000] [--api-key KEY | env QUANDEX_API_KEY] [--concurrency 1,4,8,16]
 * [--max-tokens 128] [--requests-per-slot 4] [--min-requests 8] [--request-rate R] [--control-plane]
 * [--autocannon-duration 5] [--autocannon-connections 10] [--json-out FILE]`
 */
import { Agent } from "node:http";
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { runControlPlaneBench } from "./controlPlaneBench.js";
import { describeLevel, levelsTable } from "./format.js";
import { streamGenerate } from "./http/streamGenerate.js";
import { summarizeLevel, type LevelMetrics, type RequestRecord } from "./metrics.js";
import { isMainModule } from "./paths.js";
import { measureCpu } from "./process/childServer.js";
import { benchSeed, promptFor } from "./prompts.js";
import { requestsAtLevel, runLoad, warmUp, type LoadPlan } from "./runLoad.js";

export type ServeBenchOptions = {
    /** Server origin; a trailing `/v1` is accepted and dropped. */
    baseUrl: string;
    apiKey: string;
    /** Model id or alias to request. */
    model: string;
    plan: LoadPlan;
    /** Processes whose CPU time each level records as the generator's (the server, and its llama-server child). */
    pids?: number[];
    log?: (line: string) => void;
};

/** The request body every benchmark request sends (before `stream: true` is added). */
export function benchRequestBody(model: string, index: number, maxTokens: number): Record<string, unknown> {
    return {
        model,
        prompt: promptFor(index),
        max_tokens: maxTokens,
        temperature: 0,
        seed: benchSeed,
        repeat_penalty: 1,
        ignore_eos: true
    };
}

export function normalizeBaseUrl(baseUrl: string): string {
    return baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "");
}

/** A load driver bound to one server and model; `open` sends the plan's unscored warm-up requests. */
export class ServeBench {
    private constructor(
        private readonly origin: string,
        private readonly apiKey: string,
        private readonly model: string,
        private readonly plan: LoadPlan,
        private readonly agent: Agent,
        private readonly pids: readonly number[]
    ) {}

    static async open({ baseUrl, apiKey, model, plan, pids = [] }: Omit<ServeBenchOptions, "log">): Promise<ServeBench> {
        const bench = new ServeBench(normalizeBaseUrl(baseUrl), apiKey, model, plan, new Agent({ keepAlive: true, maxSockets: Infinity }), pids);
        try {
            await warmUp(plan, (index, maxTokens) => bench.send(index, maxTokens), "server");
        } catch (error) {
            bench.close();
            throw error;
        }
        return bench;
    }

    async runLevel(concurrency: number): Promise<LevelMetrics> {
        const { plan } = this;
        const {
            result: records,
            generator,
            client
        } = await measureCpu(this.pids, () =>
            runLoad({ concurrency, requests: requestsAtLevel(plan, concurrency), requestRate: plan.requestRate, seed: concurrency }, (index) => this.send(index, plan.maxTokens))
        );
        return { ...summarizeLevel(records, { concurrency, requestRate: plan.requestRate, expectedOutputTokens: plan.maxTokens }), cpuMs: { generator, client } };
    }

    close(): void {
        this.agent.destroy();
    }

    private send(index: number, maxTokens: number): Promise<RequestRecord> {
        return streamGenerate({ baseUrl: this.origin, apiKey: this.apiKey, agent: this.agent, body: benchRequestBody(this.model, index, maxTokens) });
    }
}

/** Opens a `ServeBench`, runs every level of the plan in order and closes it. */
export async function runServeBench({ log = () => {}, ...options }: ServeBenchOptions): Promise<LevelMetrics[]> {
    const bench = await ServeBench.open(options);
    try {
        const levels: LevelMetrics[] = [];
        for (const concurrency of options.plan.concurrencyLevels) {
            const level = await bench.runLevel(concurrency);
            log(describeLevel("server", level));
            levels.push(level);
        }
        return levels;
    } finally {
        bench.close();
    }
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            "base-url": { type: "string", default: "http://127.0.0.1:8000" },
            "api-key": { type: "string" },
            model: { type: "string" },
            concurrency: { type: "string", default: "1,4,8,16" },
            "max-tokens": { type: "string", default: "128" },
            "requests-per-slot": { type: "string", default: "4" },
            "min-requests": { type: "string", default: "8" },
            "request-rate": { type: "string" },
            "control-plane": { type: "boolean", default: false },
            "autocannon-duration": { type: "string", default: "5" },
            "autocannon-connections": { type: "string", default: "10" },
            "json-out": { type: "string" }
        }
    });
    const apiKey = values["api-key"] ?? process.env.QUANDEX_API_KEY;
    if (apiKey == null || apiKey === "") throw new Error("an API key is required: --api-key or QUANDEX_API_KEY");
    if (values.model == null) throw new Error("--model ID is required");
    const levels = await runServeBench({
        baseUrl: values["base-url"],
        apiKey,
        model: values.model,
        plan: {
            concurrencyLevels: values.concurrency.split(",").map((level) => Number.parseInt(level, 10)),
            maxTokens: Number.parseInt(values["max-tokens"], 10),
            requestsPerSlot: Number.parseInt(values["requests-per-slot"], 10),
            minRequests: Number.parseInt(values["min-requests"], 10),
            requestRate: values["request-rate"] == null ? null : Number(values["request-rate"])
        },
        log: (line) => console.log(line)
    });
    console.log(levelsTable(levels));
    const controlPlane = values["control-plane"]
        ? await runControlPlaneBench({
              baseUrl: normalizeBaseUrl(values["base-url"]),
              apiKey,
              durationS: Number(values["autocannon-duration"]),
              connections: Number.parseInt(values["autocannon-connections"], 10)
          })
        : null;
    if (controlPlane != null) console.log(JSON.stringify(controlPlane, null, 2));
    if (values["json-out"] != null) await writeFile(values["json-out"], JSON.stringify({ levels, controlPlane }, null, 2));
    if (levels.some((level) => level.failed > 0 || level.totalOutputTokens === 0)) process.exitCode = 1;
}

if (isMainModule(import.meta.url)) {
    main().catch((error: unknown) => {
        console.error(error instanceof Error ? error.message : error);
        process.exitCode = 1;
    });
}
