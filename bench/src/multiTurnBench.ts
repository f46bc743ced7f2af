/**
 * The multi-turn chat benchmark of issue #21, on its own (it takes long on 2 cores): C conversations
 * at once, each re-sending its whole history every turn, on each Quandex engine with prompt reuse
 * on and off and on llama-server called directly (`multiTurn/multiTurnLegs.ts`).
 *
 *     npm run bench:multi-turn [-- --model 85m --conversations 1,8 --turns 6 --max-tokens 32 --rounds 1]
 *     npm run bench:multi-turn -- --smoke      # CI: the test model, tiny sizes, nothing written
 *
 * Writes bench/results/multi-turn-<time>.json and the section in BENCHMARKS.md between its markers
 * (`npm run bench`'s report renders the newest one too). It fails on broken runs (failed requests,
 * no tokens), never on speed.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { findLlamaServer } from "./llamaServer/findLlamaServer.js";
import { modelChoices } from "./modelChoices.js";
import { runMultiTurn } from "./multiTurn/multiTurnLegs.js";
import { multiTurnTargets, renderMultiTurn, type MultiTurnResult } from "./multiTurnSection.js";
import { benchDir, repoRoot } from "./paths.js";

const { values } = parseArgs({
    options: {
        smoke: { type: "boolean", default: false },
        model: { type: "string" },
        conversations: { type: "string" },
        turns: { type: "string" },
        "max-tokens": { type: "string" },
        rounds: { type: "string" },
        "context-size": { type: "string" },
        "llama-server": { type: "string" }
    }
});
const smoke = values.smoke;
const list = (text: string): number[] => text.split(",").map((n) => Number(n));

async function main(): Promise<number> {
    const choice = modelChoices[values.model ?? (smoke ? "tiny" : "85m")];
    if (!choice) throw new Error(`unknown --model; one of ${Object.keys(modelChoices).join(", ")}`);
    const found = await findLlamaServer(values["llama-server"]);
    const llamaServer = "missing" in found ? null : found.binaries.server;
    if ("missing" in found) console.log(`[multi-turn] no llama-server (${found.missing}): only the in-process variants run`);
    const conversations = list(values.conversations ?? (smoke ? "1,2" : "1,8"));
    const turns = Number(values.turns ?? (smoke ? 2 : 6));
    const maxTokens = Number(values["max-tokens"] ?? (smoke ? 4 : 32));
    const rounds = Number(values.rounds ?? 1);
    const contextSize = Number(values["context-size"] ?? 2048);
    const work = mkdtempSync(join(tmpdir(), "quandex-bench-multiturn-"));
    const startedAt = new Date().toISOString();
    const loadAverageAtStart = loadavg();
    const run = await runMultiTurn({
        modelId: choice.id,
        modelPath: await choice.path(),
        llamaServer,
        conversations,
        turns,
        maxTokens,
        contextSize,
        rounds,
        workDir: work,
        log: (line) => console.log(`[multi-turn] ${line}`)
    });
    rmSync(work, { recursive: true, force: true });
    // Quandex's failures break the run; llama-server direct's are its own (reported in the table).
    const failed = run.variants
        .filter((v) => v.engine !== "direct")
        .flatMap((v) => v.levels)
        .filter((l) => l.failed > 0 || l.outputThroughput === 0);
    const command = `npm run bench:multi-turn -- ${process.argv.slice(2).join(" ")}`.trim();
    const result: MultiTurnResult = { command, startedAt, machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}`, loadAverageAtStart, rounds, run };
    for (const row of multiTurnTargets(result)) console.log(`[multi-turn] ${row.pass === null ? "n/a " : row.pass ? "pass" : "FAIL"} ${row.target}: ${row.measured}`);
    if (!smoke) {
        const dir = join(benchDir, "results");
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, `multi-turn-${startedAt.replace(/[:.]/g, "-")}.json`), `${JSON.stringify(result, null, 2)}\n`);
        const path = join(repoRoot, "BENCHMARKS.md");
        const report = readFileSync(path, "utf8");
        const section = ["<!-- multi-turn:start -->", ...renderMultiTurn(result), "<!-- multi-turn:end -->"].join("\n");
        const marked = /<!-- multi-turn:start -->[\s\S]*<!-- multi-turn:end -->/;
        writeFileSync(path, marked.test(report) ? report.replace(marked, section) : `${report.trimEnd()}\n\n${section}\n`);
        console.log(`[multi-turn] wrote ${path}`);
    }
    if (failed.length > 0) {
        console.error(`[multi-turn] broken: ${failed.map((l) => `C=${l.conversations} failed ${l.failed}: ${l.errors.join("; ")}`).join(" / ")}`);
        return 1;
    }
    return 0;
}

main().then(
    (code) => process.exit(code),
    (error: unknown) => {
        console.error(error);
        process.exit(1);
    }
);
