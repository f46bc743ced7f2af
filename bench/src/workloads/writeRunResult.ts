import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import { join, relative } from "node:path";
import type { ControlPlaneResult } from "../controlPlaneBench.js";
import type { LlamaServerBinaries } from "../llamaServer/findLlamaServer.js";
import { benchDir, repoRoot } from "../paths.js";
import { renderReport } from "../renderReport.js";
import type { ModelRun, RunResult } from "../RunResult.js";
import { runTargets } from "../targets.js";
import type { BenchContext } from "./BenchContext.js";

export type RunRecord = {
    startedAt: Date;
    /** `os.loadavg()` when the run started. */
    loadAverageAtStart: number[];
    models: ModelRun[];
    controlPlane: ControlPlaneResult | null;
    /** Why the llama-server parts did not run, or `null` when they did. */
    llamaServerSkipped: string | null;
};

/**
 * Judges the targets and writes what the run measured: the results JSON to `bench/results/`
 * (smoke: `bench/results/tmp/`), and BENCHMARKS.md at the repo root unless `--no-report`.
 */
export async function writeRunResult(context: BenchContext, record: RunRecord): Promise<RunResult> {
    const { options, binaries, problems, log } = context;
    const { startedAt, models, controlPlane } = record;
    const targets = runTargets(models, controlPlane);
    const baselineSettings = models.find((run) => run.baseline != null)?.baseline?.settings;
    const result: RunResult = {
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        command: commandLine(),
        smoke: options.smoke,
        machine: {
            cpuModel: os.cpus()[0]?.model ?? "unknown",
            cores: os.cpus().length,
            memoryBytes: os.totalmem(),
            os: `${os.type()} ${os.release()} ${os.arch()}`,
            node: process.version,
            nodeLlamaCpp: baselineSettings?.nodeLlamaCppVersion ?? null,
            buildType: baselineSettings?.buildType ?? null,
            llamaCppRelease: baselineSettings?.llamaCppRelease ?? null,
            loadAverageAtStart: record.loadAverageAtStart,
            loadAverageAtEnd: os.loadavg()
        },
        models,
        controlPlane,
        llamaServer: llamaServerSection(binaries, record.llamaServerSkipped),
        targets,
        problems
    };

    const resultsDir = join(benchDir, "results", options.smoke ? "tmp" : "");
    await mkdir(resultsDir, { recursive: true });
    const resultsPath = join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
    await writeFile(resultsPath, `${JSON.stringify(result, null, 2)}\n`);
    log(`results: ${relative(repoRoot, resultsPath)}`);
    if (options.writeReport) {
        await writeFile(join(repoRoot, "BENCHMARKS.md"), renderReport(result));
        log("wrote BENCHMARKS.md");
    }
    return result;
}

function llamaServerSection(binaries: LlamaServerBinaries | null, skipped: string | null): NonNullable<RunResult["llamaServer"]> {
    return { binary: binaries?.server ?? null, batchedBench: binaries?.batchedBench ?? null, source: binaries?.source ?? null, skipped };
}

/** How the run was started, as a user would type it. */
function commandLine(): string {
    const args = process.argv.slice(2).join(" ");
    if (process.env.npm_lifecycle_event === "bench") return `npm run bench${args ? ` -- ${args}` : ""}`;
    return `node --import tsx ${relative(repoRoot, process.argv[1] ?? "bench/src/main.ts")}${args ? ` ${args}` : ""}`;
}
