import { execFile } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../paths.js";
import { quandexBin } from "../process/quandexServer.js";

const execFileAsync = promisify(execFile);

export type LlamaServerBinaries = {
    /** The llama-server binary that both Quandex (`engine.path`) and the direct runs use. */
    server: string;
    /** `llama-batched-bench` beside it, or `null` when it is not there. */
    batchedBench: string | null;
    /** How it was found: `--llama-server`, `QUANDEX_LLAMA_SERVER` or `quandex engine path`. */
    source: string;
};

/**
 * The llama-server to benchmark: `--llama-server PATH`, else `QUANDEX_LLAMA_SERVER`, else the one
 * `quandex engine build` installed (`quandex engine path`). Returns why not when there is none, so the
 * bench can skip its llama-server parts with a reason instead of failing.
 */
export async function findLlamaServer(explicit: string | undefined): Promise<{ binaries: LlamaServerBinaries } | { missing: string }> {
    let candidate: string | null;
    let source: string;
    if (explicit != null && explicit !== "") {
        candidate = resolve(explicit);
        source = "--llama-server";
    } else if (process.env.QUANDEX_LLAMA_SERVER) {
        candidate = resolve(process.env.QUANDEX_LLAMA_SERVER);
        source = "QUANDEX_LLAMA_SERVER";
    } else {
        try {
            const { stdout } = await execFileAsync(process.execPath, [quandexBin, "engine", "path"], { cwd: repoRoot, timeout: 30_000 });
            candidate = stdout.trim().split("\n").pop() ?? null;
            source = "quandex engine path";
        } catch (error) {
            const stderr = (error as { stderr?: string }).stderr?.trim();
            return { missing: `no llama-server is built (quandex engine path: ${stderr || "failed"}); build one with \`quandex engine build\` or pass --llama-server PATH` };
        }
    }
    if (candidate == null || candidate === "") return { missing: `${source} gave no path` };
    if (!(await isExecutable(candidate))) return { missing: `${candidate} (from ${source}) is missing or not executable` };
    const batched = join(dirname(candidate), "llama-batched-bench");
    return { binaries: { server: candidate, batchedBench: (await isExecutable(batched)) ? batched : null, source } };
}

async function isExecutable(path: string): Promise<boolean> {
    try {
        await access(path, constants.X_OK);
        return true;
    } catch {
        return false;
    }
}
