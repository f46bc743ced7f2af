import type { BaselineResult } from "./baseline.js";
import type { ControlPlaneResult } from "./controlPlaneBench.js";
import type { LevelMetrics } from "./metrics.js";
import type { LlamaServerRun } from "./llamaServer/llamaServerLegs.js";
import type { LoadPlan } from "./runLoad.js";
import type { TargetRow } from "./targets.js";
import type { ThreadSweepRun } from "./threadSweep.js";

/** Everything one `npm run bench` run measured: the results JSON, and the source of BENCHMARKS.md. */
export type RunResult = {
    startedAt: string;
    finishedAt: string;
    /** How the run was started, as a user would type it. */
    command: string;
    smoke: boolean;
    machine: MachineInfo;
    models: ModelRun[];
    controlPlane: ControlPlaneResult | null;
    /** The llama-server binary the llama-server parts used, or why they were skipped. Absent in runs before it existed. */
    llamaServer?: { binary: string | null; batchedBench: string | null; source: string | null; skipped: string | null };
    targets: TargetRow[];
    /** Correctness failures (not speed): each makes the run exit non-zero. */
    problems: string[];
};

export type MachineInfo = {
    cpuModel: string;
    cores: number;
    memoryBytes: number;
    os: string;
    node: string;
    nodeLlamaCpp: string | null;
    buildType: string | null;
    llamaCppRelease: string | null;
    /** `os.loadavg()` (1, 5, 15 minutes) when the run started and ended: other work on the machine skews the figures. */
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
};

export type ModelRun = {
    /** The `--models` key: tiny, 85m or synthetic-tiny. */
    key: string;
    id: string;
    path: string;
    description: string;
    fileBytes: number;
    plan: LoadPlan;
    threads: number;
    contextSize: number;
    parallel: number;
    server: {
        levels: LevelMetrics[];
        /** VmRSS of the server process, idle with the model loaded, before any request. */
        idleRssBytes: number | null;
        /** VmRSS again, idle after the load levels. */
        idleRssAfterBytes: number | null;
        unlimitedKey: boolean;
        command: string;
        configYaml: string;
    } | null;
    baseline: BaselineResult | null;
    /** Quandex with the llama-server engine, llama-server called directly, llama-batched-bench. Absent or null when skipped. */
    llamaServer?: LlamaServerRun | null;
    /** Quandex at each manual thread count and at the engine's default, per engine. */
    threadSweep?: ThreadSweepRun[];
};
