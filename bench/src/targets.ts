import type { BaselineResult } from "./baseline.js";
import type { ControlPlaneResult } from "./controlPlaneBench.js";
import { formatMb, MB } from "./format.js";
import type { LevelMetrics } from "./metrics.js";
import type { ModelRun } from "./RunResult.js";

/** One row of the targets: what was measured and whether it met the bar. */
export type TargetRow = {
    target: string;
    model: string | null;
    measured: string;
    /** `null` when the run did not measure it (e.g. no concurrency-8 level in smoke mode). */
    pass: boolean | null;
};

export type ModelTargetsInput = {
    modelId: string;
    server: LevelMetrics[];
    baseline: BaselineResult | null;
    idleRssBytes: number | null;
};

export function modelTargets({ modelId, server, baseline, idleRssBytes }: ModelTargetsInput): TargetRow[] {
    const at = (levels: readonly LevelMetrics[] | undefined, concurrency: number): LevelMetrics | undefined =>
        levels?.find((level) => level.concurrency === concurrency && level.completed > 0);
    const server1 = at(server, 1);
    const base1 = at(baseline?.levels, 1);
    const server8 = at(server, 8);
    const base8 = at(baseline?.levels, 8);
    const rows: TargetRow[] = [];

    if (server1 != null && base1 != null) {
        const ratio = server1.outputThroughput / base1.outputThroughput;
        rows.push({
            target: "single-stream output tok/s ≥ 95% of in-process",
            model: modelId,
            measured: `${server1.outputThroughput.toFixed(1)} vs ${base1.outputThroughput.toFixed(1)} tok/s = ${(ratio * 100).toFixed(1)}%`,
            pass: ratio >= 0.95
        });
        const overhead = server1.ttftMs.p50 - base1.ttftMs.p50;
        rows.push({
            target: "TTFT p50 overhead ≤ 2 ms (concurrency 1)",
            model: modelId,
            measured: `${server1.ttftMs.p50.toFixed(2)} − ${base1.ttftMs.p50.toFixed(2)} ms = ${overhead.toFixed(2)} ms`,
            pass: overhead <= 2
        });
    } else {
        rows.push({ target: "single-stream output tok/s ≥ 95% of in-process", model: modelId, measured: "not measured", pass: null });
        rows.push({ target: "TTFT p50 overhead ≤ 2 ms (concurrency 1)", model: modelId, measured: "not measured", pass: null });
    }

    const concurrentTarget = "aggregate tok/s at concurrency 8 ≥ 95% of in-process concurrent, and above single-stream";
    if (server8 != null && base8 != null && server1 != null) {
        const ratio = server8.outputThroughput / base8.outputThroughput;
        rows.push({
            target: concurrentTarget,
            model: modelId,
            measured:
                `${server8.outputThroughput.toFixed(1)} vs ${base8.outputThroughput.toFixed(1)} tok/s = ${(ratio * 100).toFixed(1)}%; ` +
                `single-stream ${server1.outputThroughput.toFixed(1)} tok/s`,
            pass: ratio >= 0.95 && server8.outputThroughput > server1.outputThroughput
        });
    } else {
        rows.push({ target: concurrentTarget, model: modelId, measured: "not measured (no concurrency-8 level)", pass: null });
    }

    rows.push({
        target: "server idle RSS ≤ 200 MB (model loaded)",
        model: modelId,
        measured: idleRssBytes == null ? "not measured" : formatMb(idleRssBytes),
        pass: idleRssBytes == null ? null : idleRssBytes <= 200 * MB
    });
    return rows;
}

export function controlPlaneTarget(result: ControlPlaneResult | null): TargetRow {
    const target = "/v1/models req/s ≥ 50% of a hello-world Fastify";
    if (result == null) return { target, model: null, measured: "not measured", pass: null };
    return {
        target,
        model: null,
        measured:
            `${result.models.requestsPerSec.toFixed(0)} vs ${result.helloWorld.requestsPerSec.toFixed(0)} req/s = ` +
            `${(result.ratio * 100).toFixed(1)}%`,
        pass: result.ratio >= 0.5
    };
}

/** Every target row of a run: four per model, then the control plane's. */
export function runTargets(models: readonly ModelRun[], controlPlane: ControlPlaneResult | null): TargetRow[] {
    return [
        ...models.flatMap((run) =>
            modelTargets({ modelId: run.id, server: run.server?.levels ?? [], baseline: run.baseline, idleRssBytes: run.server?.idleRssBytes ?? null })
        ),
        controlPlaneTarget(controlPlane)
    ];
}
