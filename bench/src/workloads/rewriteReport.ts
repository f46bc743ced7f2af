import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { repoRoot } from "../paths.js";
import { renderReport } from "../renderReport.js";
import type { RunResult } from "../RunResult.js";
import { runTargets } from "../targets.js";

/** `--report-from`: BENCHMARKS.md again from a recorded run's JSON, without measuring anything. */
export async function rewriteReport(resultsPath: string): Promise<void> {
    const recorded = JSON.parse(await readFile(resultsPath, "utf8")) as RunResult;
    // Targets are judged again by this version's rules from the recorded measurements.
    await writeFile(join(repoRoot, "BENCHMARKS.md"), renderReport({ ...recorded, targets: runTargets(recorded.models, recorded.controlPlane) }));
    console.log(`[bench] wrote BENCHMARKS.md from ${resultsPath}`);
}
