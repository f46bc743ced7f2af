/**
 * The routing overhead of an upstream pool (issue #18): the same streaming `/v1/completions`
 * requests sent to a llama-server directly and through Quandex, whose upstream pool is that same
 * llama-server. Both sides get the same body (temperature 0, the same prompt and max_tokens) on a
 * fresh loopback connection, timed by the same client (`timedSseRequest`); the two sides alternate
 * in rounds so drift on this shared machine hits both. Targets: through Quandex ≥ 97% of direct
 * throughput and ≤ 2 ms added TTFT p50, at 1 and 8 concurrent streams.
 *
 *     npm run bench:upstream-routing [-- --rounds 3 --requests 24 --max-tokens 128]
 *     npm run bench:upstream-routing -- --model 85m --requests 8 --max-tokens 32
 *
 * `--model tiny` (the default, the test model: ~2,000 tok/s, so it measures the per-token cost)
 * or `85m` (the synthetic 85M model: a realistic decode time per token, two threads).
 * Writes bench/results/upstream-routing-<time>.json and prints the table BENCHMARKS.md carries.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { makeSyntheticModel, requireTestModel, syntheticModelPresets } from "@quandex/test-support";
import { timedSseRequest } from "./http/timedSseRequest.js";
import { findLlamaServer } from "./llamaServer/findLlamaServer.js";
import { mergeRounds, summarizeLevel, type LevelMetrics, type RequestRecord } from "./metrics.js";
import { benchDir, repoRoot } from "./paths.js";
import { freePort, startChildServer, stopChildServer, waitFor, type ChildServer } from "./process/childServer.js";
import { upstreamRoutingSection } from "./upstreamRoutingSection.js";

const { values } = parseArgs({
    options: {
        rounds: { type: "string", default: "3" },
        requests: { type: "string", default: "24" },
        "max-tokens": { type: "string", default: "128" },
        model: { type: "string", default: "tiny" },
        /** The upstream llama-server's threads (default: 1 for tiny, 2 for 85m). */
        threads: { type: "string" },
        "llama-server": { type: "string" }
    }
});
const rounds = Number(values.rounds);
const requestsPerLevel = Number(values.requests);
const maxTokens = Number(values["max-tokens"]);
const levels = [1, 8];
const prompt = "Once upon a time";

async function main(): Promise<void> {
    const found = await findLlamaServer(values["llama-server"]);
    if ("missing" in found) throw new Error(`no llama-server: ${found.missing}`);
    if (values.model !== "tiny" && values.model !== "85m") throw new Error("--model is tiny or 85m");
    const choice =
        values.model === "tiny"
            ? { key: "tiny", id: "stories260K", path: requireTestModel(), threads: 1, contextSize: 512 }
            : { key: "85m", id: "synthetic-85m", path: (await makeSyntheticModel(syntheticModelPresets["85m"])).path, threads: 2, contextSize: 512 };
    if (values.threads !== undefined) choice.threads = Number(values.threads);
    const model = choice.path;
    const startedAt = new Date().toISOString();
    const work = mkdtempSync(join(tmpdir(), "quandex-bench-upstream-"));
    const cli = join(repoRoot, "packages", "server", "bin", "quandex.js");
    // The test model decodes fastest on one thread (DEVELOPERS.md, "Threads"), the 85M one on both cores; 8 slots for 8 streams.
    const lsPort = await freePort();
    const lsArgs = [
        "--model",
        model,
        "--host",
        "127.0.0.1",
        "--port",
        String(lsPort),
        "--parallel",
        "8",
        "--ctx-size",
        String(8 * choice.contextSize),
        "--threads",
        String(choice.threads),
        "--threads-batch",
        String(choice.threads),
        "--no-webui"
    ];
    const llama = startChildServer(lsArgs, { command: found.binaries.server, logPath: join(work, "llama-server.log"), cwd: work });
    const direct = `http://127.0.0.1:${lsPort}`;
    let quandex: ChildServer | null = null;
    try {
        await waitFor(llama, "llama-server /health", async () => ((await fetch(`${direct}/health`)).ok ? true : undefined), 120_000);
        const config = join(work, "quandex.yaml");
        writeFileSync(
            config,
            `upstreams:\n  - name: bench\n    type: openai\n    endpoints:\n      - url: ${direct}\n    models:\n      - id: routed\n        upstream_model: ${choice.id}\n        context_size: ${choice.contextSize}\n`
        );
        const dataDir = join(work, "data");
        const created = spawnSync(process.execPath, [cli, "keys", "create", "--name", "bench", "--json", "--unlimited", "--data-dir", dataDir], { encoding: "utf8" });
        if (created.status !== 0) throw new Error(`keys create failed: ${created.stderr}`);
        const key = (JSON.parse(created.stdout) as { key: string }).key;
        const qPort = await freePort();
        quandex = startChildServer(
            [cli, "serve", "--config", config, "--data-dir", dataDir, "--models-dir", join(work, "models"), "--port", String(qPort), "--log-level", "warn"],
            { logPath: join(work, "quandex.log"), cwd: work }
        );
        const front = `http://127.0.0.1:${qPort}`;
        await waitFor(quandex, "quandex /health", async () => ((await fetch(`${front}/health`)).ok ? true : undefined), 60_000);

        const sides = {
            direct: { url: new URL("/v1/completions", direct), headers: {} as Record<string, string>, model: choice.id },
            quandex: { url: new URL("/v1/completions", front), headers: { authorization: `Bearer ${key}` }, model: "routed" }
        };
        const results: Record<string, Record<number, LevelMetrics[]>> = { direct: {}, quandex: {} };
        for (const side of Object.values(sides)) await runLevel(side, 1, 4); // warm-up: connections, JIT, the prompt cache
        for (let round = 0; round < rounds; round++) {
            for (const concurrency of levels) {
                // Alternate which side goes first, so neither always runs on a warmer machine.
                const order = (round + concurrency) % 2 === 0 ? (["direct", "quandex"] as const) : (["quandex", "direct"] as const);
                for (const name of order) (results[name]![concurrency] ??= []).push(await runLevel(sides[name], concurrency, requestsPerLevel));
            }
        }
        const rows = levels.map((concurrency) => {
            const d = mergeRounds(results.direct![concurrency]!);
            const q = mergeRounds(results.quandex![concurrency]!);
            const ratio = q.outputThroughput / d.outputThroughput;
            const addedTtft = q.ttftMs.p50 - d.ttftMs.p50;
            return { concurrency, direct: d, quandex: q, throughputRatio: ratio, addedTtftP50Ms: addedTtft, pass: { throughput: ratio >= 0.97, ttft: addedTtft <= 2 } };
        });
        const command = `npm run bench:upstream-routing -- --model ${choice.key}${values.threads !== undefined ? ` --threads ${values.threads}` : ""} --rounds ${rounds} --requests ${requestsPerLevel} --max-tokens ${maxTokens}`;
        console.log(`\n${command}  (${new Date().toISOString()}, llama-server ${found.binaries.server})`);
        console.log("| streams | direct tok/s | through Quandex tok/s | ratio (≥ 97%) | TTFT p50 direct | TTFT p50 Quandex | added (≤ 2 ms) | failed |");
        console.log("|---|---|---|---|---|---|---|---|");
        for (const r of rows) {
            console.log(
                `| ${r.concurrency} | ${r.direct.outputThroughput.toFixed(0)} | ${r.quandex.outputThroughput.toFixed(0)} | ${(r.throughputRatio * 100).toFixed(1)}% ${r.pass.throughput ? "pass" : "FAIL"} | ${r.direct.ttftMs.p50.toFixed(2)} ms | ${r.quandex.ttftMs.p50.toFixed(2)} ms | ${r.addedTtftP50Ms.toFixed(2)} ms ${r.pass.ttft ? "pass" : "FAIL"} | ${r.direct.failed + r.quandex.failed} |`
            );
        }
        const out = join(benchDir, "results");
        mkdirSync(out, { recursive: true });
        const file = join(out, `upstream-routing-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
        const upstream = `one llama-server (${choice.threads} thread${choice.threads === 1 ? "" : "s"}, 8 slots)`;
        const machine = `${cpus()[0]?.model.trim() ?? "?"}, ${cpus().length} cores, load average ${loadavg()
            .map((l) => l.toFixed(2))
            .join(", ")} at the end`;
        writeFileSync(file, JSON.stringify({ command, startedAt, machine, model: choice.id, upstream, rounds, requestsPerLevel, maxTokens, rows }, null, 2));
        console.log(`\nwritten to ${file}`);
        // BENCHMARKS.md keeps the section in place of the previous one (npm run bench renders the same).
        const report = join(repoRoot, "BENCHMARKS.md");
        const text = readFileSync(report, "utf8");
        const section = upstreamRoutingSection().join("\n");
        const at = text.indexOf("\n## Upstream routing");
        const updated = at >= 0 ? text.slice(0, at) + section + text.slice(text.indexOf("\n## ", at + 1)) : text.replace("\n## Method", `${section}\n\n## Method`);
        writeFileSync(report, updated);
        console.log(`BENCHMARKS.md updated`);
    } finally {
        if (quandex) await stopChildServer(quandex);
        await stopChildServer(llama);
    }
}

/** `total` streaming requests, `concurrency` at a time, each on its own connection. */
async function runLevel(side: { url: URL; headers: Record<string, string>; model: string }, concurrency: number, total: number): Promise<LevelMetrics> {
    const payload = Buffer.from(JSON.stringify({ model: side.model, prompt, max_tokens: maxTokens, temperature: 0, stream: true }));
    const records: RequestRecord[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
        while (next < total) {
            next++;
            let tokens = 0;
            records.push(
                await timedSseRequest({
                    url: side.url,
                    agent: false,
                    headers: side.headers,
                    payload,
                    endedEarly: "the stream ended before [DONE]",
                    onEvent: (_event, json, stream) => {
                        if (json === undefined) return stream.finish();
                        const body = json as { choices?: Array<{ text?: string }>; error?: { message?: string } };
                        if (body.error) return stream.finish(body.error.message ?? "error event");
                        // One chunk per token on both sides (llama-server streams tokens; Quandex forwards each chunk).
                        if (body.choices?.[0]?.text) {
                            stream.text();
                            stream.outputTokens(++tokens);
                        }
                    }
                })
            );
        }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return summarizeLevel(records, { concurrency, requestRate: null });
}

main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exitCode = 1;
});
