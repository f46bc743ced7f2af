import os from "node:os";
import { parseArgs } from "node:util";
import { modelChoices } from "./modelChoices.js";

export type BenchEngine = "node-llama-cpp" | "llama-server";

/** A `npm run bench` run's settings, every default resolved (several depend on `--smoke`). */
export type BenchOptions = {
    smoke: boolean;
    /** Keys of `modelChoices`, in the order they run. */
    models: string[];
    concurrencyLevels: number[];
    /** Overrides of the model's load plan; `null` keeps the plan's. */
    maxTokens: number | null;
    warmupRequests: number | null;
    /** Poisson arrivals per second; `null` sends each level's requests at once. */
    requestRate: number | null;
    rounds: number;
    threads: number;
    contextSize: number;
    skipBaseline: boolean;
    skipControlPlane: boolean;
    engines: BenchEngine[];
    /** `--llama-server`; unset looks in `QUANDEX_LLAMA_SERVER` and the built engines. */
    llamaServerPath: string | undefined;
    /** `null`: the llama-server engine's own choice for each model (threads: auto), as a user gets it. */
    llamaServerThreads: number | null;
    threadSweep: boolean;
    sweepThreads: number[];
    sweepConcurrency: number[];
    autocannonDurationS: number;
    autocannonConnections: number;
    writeReport: boolean;
};

/** What the command line asks for: the usage text, BENCHMARKS.md again from a recorded run, or a run. */
export type BenchCommand = { kind: "help"; text: string } | { kind: "report-from"; path: string } | { kind: "run"; options: BenchOptions };

/**
 * The flags, each with its help line. Defaults live in `parseBenchArgs`, not in parseArgs, because
 * several depend on `--smoke`; the help line says what they are.
 */
const flags = {
    smoke: {
        type: "boolean",
        help: "CI mode: tiny models and sizes, results to bench/results/tmp/, no BENCHMARKS.md, no thread sweep, llama-server parts on the first model only"
    },
    models: { type: "string", value: "LIST", help: `models to run, of ${Object.keys(modelChoices).join(", ")}. Defaults to tiny,85m (smoke: tiny,synthetic-tiny)` },
    concurrency: { type: "string", value: "LIST", help: "concurrency levels. Defaults to 1,4,8,16 (smoke: 1,2)" },
    "max-tokens": { type: "string", value: "N", help: "tokens per request. Defaults to the model's plan (smoke: 8)" },
    "warmup-requests": { type: "string", value: "N", help: "unmeasured requests before each level. Defaults to 4 (smoke: 1)" },
    "request-rate": { type: "string", value: "R", help: "Poisson arrivals per second. Defaults to all at once" },
    rounds: { type: "string", value: "N", help: "rounds per level, server and baseline alternating. Defaults to 3 (smoke: 1)" },
    threads: { type: "string", value: "N", help: "threads of the in-process engine and the baseline. Defaults to 1" },
    "context-size": { type: "string", value: "N", help: "tokens per sequence. Defaults to 512" },
    "skip-baseline": { type: "boolean", help: "leave out the in-process baseline" },
    "skip-control-plane": { type: "boolean", help: "leave out the control plane (autocannon)" },
    engines: { type: "string", value: "LIST", help: "engines to run, of node-llama-cpp, llama-server. Defaults to both" },
    "llama-server": { type: "string", value: "PATH", help: "the llama-server binary. Defaults to QUANDEX_LLAMA_SERVER, then the one `quandex engine build` installed" },
    "llama-server-threads": { type: "string", value: "N", help: "threads of the llama-server engine. Defaults to the engine's choice" },
    "thread-sweep": { type: "boolean", help: "run the thread sweep (the default, except with --smoke)" },
    "skip-thread-sweep": { type: "boolean", help: "leave out the thread sweep" },
    "thread-sweep-threads": { type: "string", value: "LIST", help: "manual thread counts to sweep. Defaults to 1, 2, half the cores and all of them" },
    "thread-sweep-concurrency": { type: "string", value: "LIST", help: "concurrency levels of the sweep. Defaults to 1,8" },
    "autocannon-duration": { type: "string", value: "S", help: "seconds per autocannon target. Defaults to 5 (smoke: 1)" },
    "autocannon-connections": { type: "string", value: "N", help: "autocannon connections. Defaults to 10" },
    report: { type: "boolean", help: "write BENCHMARKS.md (the default, except with --smoke)" },
    "no-report": { type: "boolean", help: "do not write BENCHMARKS.md" },
    "report-from": { type: "string", value: "FILE", help: "write BENCHMARKS.md again from a recorded run (bench/results/FILE.json) and stop" },
    help: { type: "boolean", help: "print this and stop" }
} as const;

/** The `--help` text, from the flags' own help lines. */
export function benchUsage(): string {
    const rows = Object.entries(flags).map(([name, flag]) => [`--${name}${"value" in flag ? ` ${flag.value}` : ""}`, flag.help] as const);
    const width = Math.max(...rows.map(([left]) => left.length));
    return ["Usage: npm run bench -- [flags]", "", ...rows.map(([left, help]) => `  ${left.padEnd(width)}  ${help}`)].join("\n");
}

/**
 * Reads the bench's command line (`process.argv.slice(2)`).
 * @throws on an unknown flag, a stray argument, or a value that is not what its flag takes.
 */
export function parseBenchArgs(args: string[]): BenchCommand {
    const { values } = parseArgs({ args, options: flags, strict: true, allowPositionals: false });
    if (values.help) return { kind: "help", text: benchUsage() };
    if (values["report-from"] !== undefined) return { kind: "report-from", path: values["report-from"] };

    const smoke = values.smoke ?? false;
    const models = list(values.models ?? (smoke ? "tiny,synthetic-tiny" : "tiny,85m"));
    for (const key of models) {
        if (modelChoices[key] == null) throw new Error(`unknown model '${key}'; use ${Object.keys(modelChoices).join(", ")}`);
    }
    const engines = list(values.engines ?? "node-llama-cpp,llama-server");
    for (const engine of engines) {
        if (engine !== "node-llama-cpp" && engine !== "llama-server") throw new Error(`unknown engine '${engine}'; use node-llama-cpp, llama-server`);
    }
    const cores = os.availableParallelism();
    const maybe = <T>(text: string | undefined, read: (text: string) => T): T | null => (text === undefined ? null : read(text));
    return {
        kind: "run",
        options: {
            smoke,
            models,
            concurrencyLevels: integers("concurrency", values.concurrency ?? (smoke ? "1,2" : "1,4,8,16"), 1),
            maxTokens: maybe(values["max-tokens"], (text) => integer("max-tokens", text, 1)),
            warmupRequests: maybe(values["warmup-requests"], (text) => integer("warmup-requests", text, 0)),
            requestRate: maybe(values["request-rate"], (text) => positive("request-rate", text)),
            rounds: values.rounds !== undefined ? integer("rounds", values.rounds, 1) : smoke ? 1 : 3,
            threads: integer("threads", values.threads ?? "1", 0),
            contextSize: integer("context-size", values["context-size"] ?? "512", 1),
            skipBaseline: values["skip-baseline"] ?? false,
            skipControlPlane: values["skip-control-plane"] ?? false,
            engines: engines as BenchEngine[],
            llamaServerPath: values["llama-server"],
            llamaServerThreads: maybe(values["llama-server-threads"], (text) => integer("llama-server-threads", text, 0)),
            threadSweep: !(values["skip-thread-sweep"] ?? false) && (values["thread-sweep"] ?? !smoke),
            sweepThreads:
                values["thread-sweep-threads"] !== undefined
                    ? integers("thread-sweep-threads", values["thread-sweep-threads"], 1)
                    : [...new Set([1, 2, Math.ceil(cores / 2), cores].filter((n) => n <= cores))].sort((a, b) => a - b),
            sweepConcurrency: integers("thread-sweep-concurrency", values["thread-sweep-concurrency"] ?? "1,8", 1),
            autocannonDurationS: values["autocannon-duration"] !== undefined ? positive("autocannon-duration", values["autocannon-duration"]) : smoke ? 1 : 5,
            autocannonConnections: integer("autocannon-connections", values["autocannon-connections"] ?? "10", 1),
            writeReport: values.report ?? (!smoke && !(values["no-report"] ?? false))
        }
    };
}

function list(text: string): string[] {
    return text.split(",");
}

function integer(flag: string, text: string, min: number): number {
    const value = Number(text);
    if (text.trim() === "" || !Number.isInteger(value) || value < min) throw new Error(`--${flag} takes integers of at least ${min}, got '${text}'`);
    return value;
}

function integers(flag: string, text: string, min: number): number[] {
    return list(text).map((item) => integer(flag, item, min));
}

function positive(flag: string, text: string): number {
    const value = Number(text);
    if (text.trim() === "" || !(value > 0)) throw new Error(`--${flag} takes a number above 0, got '${text}'`);
    return value;
}
