import { spawn } from "node:child_process";
import path from "node:path";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { bundledLlamaCppSource, type LlamaServerVariant } from "../llamaServer/LlamaServerBuild.js";

export interface NodeLlamaCppLocalBuildPlan {
    /** The node-llama-cpp CLI run: `source download` builds offline from the git bundle its package ships. */
    command: string[];
    release: string;
    variant: LlamaServerVariant;
}

/** What `quandex engine build --for node-llama-cpp` runs, for a back end. */
export function nodeLlamaCppLocalBuildPlan(variant: LlamaServerVariant): NodeLlamaCppLocalBuildPlan {
    const source = bundledLlamaCppSource();
    const cli = path.join(source.packageDir, "dist", "cli", "cli.js");
    // node-llama-cpp's `--gpu false` is the CPU build; the others name their back end.
    const gpu = variant === "cpu" ? "false" : variant;
    return { command: [process.execPath, cli, "source", "download", "--release", source.release, "--gpu", gpu, "--noUsageExample"], release: source.release, variant };
}

/**
 * Whether node-llama-cpp already has a local build for this back end: the one its own loader
 * picks over the prebuilt binaries (`getLlama` reports `buildType: "localBuild"`).
 */
export async function hasNodeLlamaCppLocalBuild(variant: LlamaServerVariant): Promise<boolean> {
    let llama;
    try {
        llama = await getLlama({ build: "never", gpu: variant === "cpu" ? false : variant, progressLogs: false, logLevel: LlamaLogLevel.error, skipDownload: true });
    } catch {
        // No binary at all for this back end here: certainly no local build.
        return false;
    }
    try {
        return llama.buildType === "localBuild";
    } finally {
        await llama.dispose();
    }
}

/**
 * Builds node-llama-cpp's local llama.cpp (OpenMP, native CPU flags) from the source its package
 * bundles, with no network, through node-llama-cpp's own CLI, whose output goes to ours. The
 * in-process engine loads it at its next start. Rejects when the CLI fails.
 */
export function buildNodeLlamaCppLocal(plan: NodeLlamaCppLocalBuildPlan): Promise<void> {
    const [command, ...args] = plan.command;
    return new Promise((resolve, reject) => {
        const child = spawn(command!, args, { stdio: "inherit" });
        child.once("error", reject);
        child.once("exit", (code, signal) => {
            if (code === 0) resolve();
            else reject(new Error(`node-llama-cpp's build ${signal ? `was killed by ${signal}` : `exited with status ${code}`}`));
        });
    });
}
