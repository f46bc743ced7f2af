import { execFile } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** One row of `llama-batched-bench --output-format jsonl`: B sequences of `pp` prompt and `tg` generated tokens each. */
export type BatchedBenchRow = {
    /** B: parallel sequences. */
    pl: number;
    pp: number;
    tg: number;
    /** Prompt processing tokens/s (B × pp / t_pp). */
    speedPp: number;
    /** Generation tokens/s, the decode-only aggregate (B × tg / t_tg): the bound a server's aggregate output tok/s is held to. */
    speedTg: number;
    /** Everything: B × (pp + tg) / t. */
    speed: number;
    tPpS: number;
    tTgS: number;
};

/**
 * Generated tokens over the whole run, prompts included: B × tg / (t_pp + t_tg). A server's aggregate
 * output tok/s is measured the same way (each request evaluates its prompt, then generates), so this
 * is the bound for a workload of B streams of `pp` prompt and `tg` generated tokens; S_TG leaves the
 * prompts' time out and is reached only as `tg` grows long next to `pp`.
 */
export function generatedTokensRate(row: BatchedBenchRow): number {
    return (row.pl * row.tg) / (row.tPpS + row.tTgS);
}

export type BatchedBenchResult = {
    command: string;
    threads: number;
    rows: BatchedBenchRow[];
    /** How many runs each row is the median of; absent in runs recorded before it ran more than once. */
    runs?: number;
};

export type BatchedBenchOptions = {
    binary: string;
    modelPath: string;
    threads: number;
    /** Prompt tokens per sequence (`-npp`). */
    promptTokens: number;
    /** Generated tokens per sequence (`-ntg`). */
    generatedTokens: number;
    /** B values (`-npl`). */
    parallel: number[];
    /** Tokens per sequence, as the server's `context_size`; `-c` is this × the largest B, not unified (as Quandex runs llama-server). */
    contextSize: number;
    /** Times the whole command runs; each B reports its median run. Defaults to 3. */
    runs?: number;
};

/**
 * llama.cpp's own batched decode benchmark on the same binary build: no HTTP, no server loop, one
 * process decoding B sequences in lock-step. `-fa off` and a per-sequence (not unified) KV cache, as
 * Quandex starts llama-server on the CPU.
 */
export async function runBatchedBench(options: BatchedBenchOptions): Promise<BatchedBenchResult> {
    const maxB = Math.max(...options.parallel);
    // A last, unwanted run at the smallest B: llama-batched-bench prints through llama.cpp's
    // asynchronous logger and now and then exits before its last line is out (seen: the B=8 row of
    // `-npl 1,8` missing, exit status 0). The extra run keeps the wanted rows from being last.
    const npl = [...options.parallel, Math.min(...options.parallel)];
    const args = [
        "-m", options.modelPath,
        "-c", String(options.contextSize * maxB),
        "-npp", String(options.promptTokens),
        "-ntg", String(options.generatedTokens),
        "-npl", npl.join(","),
        "-t", String(options.threads),
        "-tb", String(options.threads),
        "-fa", "off",
        "-no-kvu",
        "--output-format", "jsonl"
    ]; // prettier-ignore
    const runOnce = async (): Promise<BatchedBenchRow[]> => {
        let rows: BatchedBenchRow[] = [];
        for (let attempt = 1; attempt <= 3; attempt++) {
            const { stdout } = await execFileAsync(options.binary, args, { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
            rows = [];
            for (const line of stdout.split("\n")) {
                if (!line.startsWith("{")) continue;
                const row = JSON.parse(line) as { pl: number; pp: number; tg: number; speed_pp: number; speed_tg: number; speed: number; t_pp: number; t_tg: number };
                // The first row of each B; the extra run at the end is a repeat.
                if (rows.some((seen) => seen.pl === row.pl)) continue;
                rows.push({ pl: row.pl, pp: row.pp, tg: row.tg, speedPp: row.speed_pp, speedTg: row.speed_tg, speed: row.speed, tPpS: row.t_pp, tTgS: row.t_tg });
            }
            if (options.parallel.every((b) => rows.some((row) => row.pl === b))) return rows;
        }
        const missing = options.parallel.filter((b) => !rows.some((row) => row.pl === b));
        throw new Error(`llama-batched-bench printed no result for B=${missing.join(",")} in 3 runs`);
    };
    const runs: BatchedBenchRow[][] = [];
    for (let run = 0; run < Math.max(1, options.runs ?? 3); run++) runs.push(await runOnce());
    // Per B, the run with the median rate: one run of a few seconds moved by ±15% between runs here.
    const rows = options.parallel.map((b) => {
        const ofB = runs.map((rowsOfRun) => rowsOfRun.find((row) => row.pl === b)!).sort((x, y) => generatedTokensRate(x) - generatedTokensRate(y));
        return ofB[(ofB.length - 1) >> 1]!;
    });
    return { command: [options.binary, ...args].join(" "), threads: options.threads, rows, runs: runs.length };
}
