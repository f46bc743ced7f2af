import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { MultiTurnRun, MultiTurnVariant } from "./multiTurn/multiTurnLegs.js";
import { benchDir } from "./paths.js";

/** What `npm run bench:multi-turn` writes to `bench/results/multi-turn-*.json`. */
export interface MultiTurnResult {
    command: string;
    startedAt: string;
    machine: string;
    loadAverageAtStart: number[];
    rounds: number;
    run: MultiTurnRun;
}

const ms = (value: number | undefined): string => (value === undefined ? "n/a" : `${(value / 1000).toFixed(2)} s`);
const pct = (value: number): string => `${(value * 100).toFixed(0)}%`;

function level(variant: MultiTurnVariant | undefined, conversations: number) {
    return variant?.levels.find((l) => l.conversations === conversations);
}

/**
 * The multi-turn targets of issue #21, from one run's figures (ratios within the run, as the
 * machine is shared): turn-6 TTFT p50 with reuse ≤ 40% of the same engine with reuse off (C = 1 and
 * 8); on the default engine at C = 8, turn-6 TTFT p50 ≤ llama-server direct's and output tok/s ≥ 95%
 * of it; shared opening text: turn-1 TTFT p50 at C = 8 ≤ 50% of llama-server direct's.
 */
export function multiTurnTargets(result: MultiTurnResult): Array<{ target: string; measured: string; pass: boolean | null }> {
    const { run } = result;
    const find = (label: string, reuse: string) => run.variants.find((v) => v.label === label && v.reuse === reuse);
    const direct = find("llama-server direct", "default");
    const engines = [...new Set(run.variants.filter((v) => v.engine !== "direct").map((v) => v.label))];
    const rows: Array<{ target: string; measured: string; pass: boolean | null }> = [];
    const last = run.turns - 1;
    for (const label of engines) {
        for (const c of [1, 8]) {
            const on = level(find(label, "per_key"), c)?.ttftByTurn[last]?.p50;
            const off = level(find(label, "off"), c)?.ttftByTurn[last]?.p50;
            const ratio = on !== undefined && off !== undefined && off > 0 ? on / off : null;
            rows.push({
                target: `${label} C=${c}: turn-${run.turns} TTFT p50 with reuse ≤ 40% of reuse off`,
                measured: ratio === null ? "n/a" : `${ms(on)} vs ${ms(off)} = ${pct(ratio)}`,
                pass: ratio === null ? null : ratio <= 0.4
            });
        }
    }
    const defaultLabel = engines.includes("quandex/llama-server") ? "quandex/llama-server" : "quandex/node-llama-cpp";
    const mine = level(find(defaultLabel, "per_key"), 8);
    const theirs = level(direct, 8);
    if (mine && theirs) {
        const a = mine.ttftByTurn[last]!.p50;
        const b = theirs.ttftByTurn[last]!.p50;
        rows.push({
            target: `default engine (${defaultLabel}) C=8: turn-${run.turns} TTFT p50 ≤ llama-server direct`,
            measured: `${ms(a)} vs ${ms(b)} = ${pct(a / b)}`,
            pass: a <= b
        });
        rows.push({
            target: `default engine C=8: output tok/s ≥ 95% of llama-server direct`,
            measured: `${mine.outputThroughput.toFixed(1)} vs ${theirs.outputThroughput.toFixed(1)} = ${pct(mine.outputThroughput / theirs.outputThroughput)}`,
            pass: mine.outputThroughput >= 0.95 * theirs.outputThroughput
        });
        const f = mine.ttftByTurn[0]!.p50;
        const g = theirs.ttftByTurn[0]!.p50;
        rows.push({
            target: `default engine C=8, shared opening text: turn-1 TTFT p50 ≤ 50% of llama-server direct`,
            measured: `${ms(f)} vs ${ms(g)} = ${pct(f / g)}`,
            pass: f <= 0.5 * g
        });
    }
    return rows;
}

/** BENCHMARKS.md's multi-turn section from one result. */
export function renderMultiTurn(result: MultiTurnResult): string[] {
    const { run } = result;
    const lines = [
        "",
        "## Multi-turn chat and prompt reuse (issue #21)",
        "",
        `Measured ${result.startedAt} on ${result.machine} (load average at start ${result.loadAverageAtStart.map((l) => l.toFixed(2)).join(", ")}), with:`,
        "",
        "```",
        result.command,
        "```",
        "",
        `Model \`${run.modelId}\`; each conversation opens with the same system prompt (~400 tokens), then ${run.turns} turns of a 20–40-token user message and ${run.maxTokens} generated tokens, the whole history re-sent every turn through \`/v1/chat/completions\`, streamed; ${result.rounds} round(s), medians merged. Prompt tokens reused: of the prompt tokens the server counted, those it did not evaluate again (\`cached_tokens\`; n/a where the server does not report it).`,
        "",
        `| variant | C | TTFT p50 turn 1 | TTFT p50 turn ${run.turns} | TTFT p99 turn ${run.turns} | output tok/s | prompt tokens reused | failed |`,
        "|---|---|---|---|---|---|---|---|"
    ];
    for (const variant of run.variants) {
        for (const l of variant.levels) {
            const cached =
                l.promptTokensCached === null ? "n/a" : `${l.promptTokensCached} / ${l.promptTokensSent} (${pct(l.promptTokensCached / Math.max(1, l.promptTokensSent))})`;
            lines.push(
                `| ${variant.label}, reuse ${variant.reuse} | ${l.conversations} | ${ms(l.ttftByTurn[0]?.p50)} | ${ms(l.ttftByTurn.at(-1)?.p50)} | ${ms(l.ttftByTurn.at(-1)?.p99)} | ${l.outputThroughput.toFixed(1)} | ${cached} | ${l.failed} |`
            );
        }
    }
    const failures = run.variants.flatMap((v) =>
        v.levels.filter((l) => l.failed > 0).map((l) => `- ${v.label}, C=${l.conversations}: ${l.failed} failed turn(s): ${l.errors.join("; ")}`)
    );
    if (failures.length > 0)
        lines.push("", "Failed turns (a turn cut off by an error chunk still goes on into the conversation; it is left out of the TTFT figures):", "", ...failures);
    lines.push("", "| target | measured | pass |", "|---|---|---|");
    for (const row of multiTurnTargets(result)) lines.push(`| ${row.target} | ${row.measured} | ${row.pass === null ? "n/a" : row.pass ? "pass" : "**fail**"} |`);
    lines.push("", "Servers as started:", "");
    for (const variant of run.variants) lines.push(`- ${variant.label}, reuse ${variant.reuse}: \`${variant.command}\``);
    return lines;
}

/** The section from the newest `bench/results/multi-turn-*.json`; empty when there is none. */
export function multiTurnSection(resultsDir = join(benchDir, "results")): string[] {
    let files: string[];
    try {
        files = readdirSync(resultsDir)
            .filter((f) => /^multi-turn-.*\.json$/.test(f))
            .sort();
    } catch {
        return [];
    }
    const newest = files.at(-1);
    if (!newest) return [];
    return renderMultiTurn(JSON.parse(readFileSync(join(resultsDir, newest), "utf8")) as MultiTurnResult);
}
