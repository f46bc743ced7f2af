import { execFile } from "node:child_process";
import { accessSync, constants as fsConstants } from "node:fs";
import type { Backend } from "@quandex/protocol";

/** What Quandex learned about a llama-server binary before using it. */
export interface LlamaServerBinaryInfo {
    path: string;
    /** As the binary prints it, e.g. `7200 (80fb11a)`. */
    version: string;
    /** llama.cpp's build number (`b7200` is 7200); 0 or small for builds from a squashed source. */
    buildNumber: number;
    commit: string | null;
    /** The compiler line, e.g. `GNU 12.2.0 for Linux x86_64`. */
    builtWith: string | null;
    /** Accelerators the binary can use here (`--list-devices`); empty on a CPU-only build. */
    devices: LlamaServerDevice[];
    /** Optional flags this binary understands; the runner passes only these. */
    supports: { noWebui: string | null; noKvUnified: boolean; cacheRam: boolean; flashAttn: boolean; gpuLayersAuto: boolean; jinja: boolean };
}

export interface LlamaServerDevice {
    name: string;
    description: string;
    backend: Backend;
    totalBytes: number;
    freeBytes: number;
}

export class LlamaServerBinaryError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "LlamaServerBinaryError";
    }
}

/** Flags every model start uses; a binary without one of them cannot be driven. */
const requiredFlags = ["--ctx-size", "--parallel", "--threads", "--n-gpu-layers", "--host", "--port", "--model"];

/**
 * Runs `<binary> --version`, `--help` and `--list-devices`, and refuses, with a message that says
 * what to do, a binary that is missing, not a llama-server, or too old to take the flags Quandex passes.
 *
 * @throws LlamaServerBinaryError
 */
export async function inspectLlamaServer(binaryPath: string): Promise<LlamaServerBinaryInfo> {
    const fix = "Build one with `quandex engine build`, or point `engine.path` in the config at a working llama-server.";
    try {
        accessSync(binaryPath, fsConstants.X_OK);
    } catch {
        throw new LlamaServerBinaryError(`llama-server not found or not executable at ${binaryPath}. ${fix}`);
    }
    let versionText: string;
    try {
        versionText = await output(binaryPath, ["--version"]);
    } catch (error) {
        throw new LlamaServerBinaryError(`${binaryPath} --version failed (${(error as Error).message.trim().split("\n").slice(-2).join(" ")}). ${fix}`);
    }
    const version = parseVersion(versionText);
    if (!version) throw new LlamaServerBinaryError(`${binaryPath} is not a llama.cpp server: its --version printed ${JSON.stringify(versionText.trim().slice(0, 200))}. ${fix}`);
    const help = await output(binaryPath, ["--help"]).catch((error: Error) => error.message);
    const missing = requiredFlags.filter((flag) => !hasFlag(help, flag));
    if (missing.length > 0 || !hasFlag(help, "--slot-save-path")) {
        throw new LlamaServerBinaryError(
            `${binaryPath} (llama.cpp ${version.text}) cannot be driven by Quandex: its --help lacks ${missing.join(", ") || "the server options"}. ` +
                `Quandex needs a llama-server from llama.cpp b5000 or newer. ${fix}`
        );
    }
    const devices = await listLlamaServerDevices(binaryPath);
    return {
        path: binaryPath,
        version: version.text,
        buildNumber: version.buildNumber,
        commit: version.commit,
        builtWith: /^built with (.+)$/m.exec(versionText)?.[1]?.trim() ?? null,
        devices,
        supports: {
            noWebui: hasFlag(help, "--no-webui") ? "--no-webui" : hasFlag(help, "--no-ui") ? "--no-ui" : null,
            noKvUnified: hasFlag(help, "--no-kv-unified"),
            cacheRam: hasFlag(help, "--cache-ram"),
            flashAttn: /--flash-attn\s+\[on\|off\|auto\]|--flash-attn \{on,off,auto\}|-fa,\s+--flash-attn\s+\[/.test(help),
            gpuLayersAuto: /exact number,\s+'auto', or 'all'/.test(help),
            jinja: hasFlag(help, "--jinja")
        }
    };
}

/**
 * Two shapes exist: upstream's `version: 7200 (80fb11a)` and `version: 0.4.0-dev (build 1, commit 80fb11a)`
 * (the source node-llama-cpp bundles).
 */
export function parseVersion(text: string): { text: string; buildNumber: number; commit: string | null } | null {
    const upstream = /^version:\s*(\d+)\s*\(([0-9a-f]+)\)/m.exec(text);
    if (upstream) return { text: `${upstream[1]} (${upstream[2]})`, buildNumber: Number(upstream[1]), commit: upstream[2]! };
    const named = /^version:\s*(\S+)\s*\(build (\d+), commit ([0-9a-f]+)\)/m.exec(text);
    if (named) return { text: `${named[1]} (build ${named[2]}, commit ${named[3]})`, buildNumber: Number(named[2]), commit: named[3]! };
    return null;
}

function hasFlag(help: string, flag: string): boolean {
    return new RegExp(`(^|[\\s,])${flag.replace(/[-]/g, "\\-")}(?=[\\s,=]|$)`, "m").test(help);
}

/** The accelerators the binary can use now, with their free memory (`--list-devices`); empty on failure. */
export async function listLlamaServerDevices(binaryPath: string): Promise<LlamaServerDevice[]> {
    return parseDevices(await output(binaryPath, ["--list-devices"]).catch(() => ""));
}

/** `--list-devices` lines look like `  CUDA0: NVIDIA H100 (81000 MiB, 80000 MiB free)`. */
export function parseDevices(text: string): LlamaServerDevice[] {
    const devices: LlamaServerDevice[] = [];
    for (const line of text.split("\n")) {
        const match = /^\s+([A-Za-z]+)(\d*):\s*(.*?)\s*\((\d+) MiB,\s*(\d+) MiB free\)/.exec(line);
        if (!match) continue;
        const kind = match[1]!.toLowerCase();
        const backend: Backend | null = kind.startsWith("cuda") ? "cuda" : kind.startsWith("vulkan") ? "vulkan" : kind.startsWith("metal") || kind === "mtl" ? "metal" : null;
        if (!backend) continue;
        devices.push({
            name: `${match[1]}${match[2]}`,
            description: match[3]!,
            backend,
            totalBytes: Number(match[4]) * 1024 * 1024,
            freeBytes: Number(match[5]) * 1024 * 1024
        });
    }
    return devices;
}

function output(file: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(file, args, { timeout: 30_000, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
            if (error) reject(new Error(`${error.message}\n${stderr}`));
            else resolve(`${stdout}\n${stderr}`);
        });
    });
}
