import type { LlamaServerBinaries } from "../llamaServer/findLlamaServer.js";
import type { BenchOptions } from "../parseBenchArgs.js";

/** What every workload of one `npm run bench` shares. */
export type BenchContext = {
    options: BenchOptions;
    /** The llama-server binaries, or `null` when the llama-server parts are skipped. */
    binaries: LlamaServerBinaries | null;
    /** Correctness failures so far (not speed); workloads append, and any makes the run exit non-zero. */
    problems: string[];
    log: (line: string) => void;
};
