import { spawn } from "node:child_process";
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { takePidLock } from "../system/takePidLock.js";
import { fileURLToPath } from "node:url";

/** GPU back ends a llama-server build can target. */
export type LlamaServerVariant = "cpu" | "cuda" | "vulkan" | "metal";

export const llamaServerVariants: readonly LlamaServerVariant[] = ["cpu", "cuda", "vulkan", "metal"];

/** The targets built; `llama-batched-bench` is the compute-only bound the serving benchmark compares against. */
export const llamaServerTargets = ["llama-server", "llama-batched-bench"] as const;

/** The llama.cpp source that node-llama-cpp's npm package ships: a git bundle and the release it holds. */
export interface BundledLlamaCppSource {
    /** The llama.cpp release tag, e.g. `b6000` (from `llama/llama.cpp.info.json`). */
    release: string;
    /** `llama/gitRelease.bundle` inside the node-llama-cpp package. */
    bundlePath: string;
    /** node-llama-cpp's own package directory. */
    packageDir: string;
}

/** The stamp written beside a finished build; a build is reused only when every field but the times matches. */
export interface LlamaServerBuildStamp {
    release: string;
    /** The commit the bundle's HEAD points at. */
    commit: string;
    variant: LlamaServerVariant;
    /** The cmake configure flags, in order. */
    cmakeFlags: string[];
    targets: string[];
    builtAt: string;
    durationSeconds: number;
}

export interface LlamaServerInstall {
    dir: string;
    serverPath: string;
    batchedBenchPath: string;
    stamp: LlamaServerBuildStamp;
}

export interface BuildLlamaServerOptions {
    /** `QUANDEX_HOME`; engines go to `<home>/engines/<release>/<variant>/`. */
    home: string;
    /** Defaults to `metal` on macOS, else `cpu`. */
    variant?: LlamaServerVariant;
    /** Parallel compile jobs. Defaults to the number of cores. */
    jobs?: number;
    /** Rebuild even when a matching build is installed. Defaults to `false`. */
    force?: boolean;
    /** Keep the source and object files after a successful build (faster rebuilds). Defaults to `false`. */
    keepBuildDir?: boolean;
    /** Called once when a build really starts (not when a matching one is kept). */
    onStart?: (info: { release: string; variant: LlamaServerVariant; dir: string; jobs: number }) => void;
    /** Progress lines for a human (percentages, phases). */
    onProgress?: (line: string) => void;
    signal?: AbortSignal;
}

export interface BuildLlamaServerResult {
    install: LlamaServerInstall;
    /** True when a matching build was already installed and nothing was compiled. */
    skipped: boolean;
    /** The full compiler log of this build (kept after a failure, too). */
    logPath: string;
}

export class LlamaServerBuildError extends Error {
    constructor(
        message: string,
        readonly logPath?: string
    ) {
        super(message);
        this.name = "LlamaServerBuildError";
    }
}

/** Finds node-llama-cpp's package directory and the llama.cpp release its bundle holds. */
export function bundledLlamaCppSource(): BundledLlamaCppSource {
    let dir = path.dirname(fileURLToPath(import.meta.resolve("node-llama-cpp")));
    while (!existsSync(path.join(dir, "llama", "gitRelease.bundle"))) {
        const parent = path.dirname(dir);
        if (parent === dir) throw new LlamaServerBuildError("node-llama-cpp's bundled llama.cpp source (llama/gitRelease.bundle) was not found");
        dir = parent;
    }
    const llamaDir = path.join(dir, "llama");
    const release = readJsonField(path.join(llamaDir, "llama.cpp.info.json"), "tag") ?? readJsonField(path.join(llamaDir, "binariesGithubRelease.json"), "release");
    if (!release || !/^[A-Za-z0-9._-]+$/.test(release)) throw new LlamaServerBuildError(`cannot tell which llama.cpp release ${llamaDir} holds`);
    return { release, bundlePath: path.join(llamaDir, "gitRelease.bundle"), packageDir: dir };
}

/** Where a variant of a release is installed: `<home>/engines/<release>/<variant>/`. */
export function llamaServerInstallDir(home: string, release: string, variant: LlamaServerVariant): string {
    return path.join(home, "engines", release, variant);
}

export function defaultLlamaServerVariant(): LlamaServerVariant {
    return process.platform === "darwin" ? "metal" : "cpu";
}

/** The cmake configure flags for a variant: Release, native CPU flags, OpenMP, no network features. */
export function llamaServerCmakeFlags(variant: LlamaServerVariant): string[] {
    const flags = [
        "-DCMAKE_BUILD_TYPE=Release",
        "-DGGML_NATIVE=ON",
        "-DGGML_OPENMP=ON",
        "-DLLAMA_CURL=OFF",
        // Downloading models (-hf) is the only thing HTTPS is for; the build needs no network either.
        "-DLLAMA_OPENSSL=OFF",
        // The web UI would be fetched from the network; Quandex serves its own API instead.
        "-DLLAMA_BUILD_UI=OFF",
        "-DLLAMA_USE_PREBUILT_UI=OFF",
        // Static: the installed binaries are self-contained and can be copied out of the build tree.
        "-DBUILD_SHARED_LIBS=OFF",
        "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_BUILD_TOOLS=ON",
        "-DLLAMA_BUILD_SERVER=ON",
        "-DGGML_CCACHE=OFF"
    ];
    if (variant === "cuda") flags.push("-DGGML_CUDA=ON");
    if (variant === "vulkan") flags.push("-DGGML_VULKAN=ON");
    if (variant === "metal") flags.push("-DGGML_METAL=ON", "-DGGML_METAL_EMBED_LIBRARY=ON");
    if (variant === "cpu" && process.platform === "darwin") flags.push("-DGGML_METAL=OFF");
    return flags;
}

/** Reads an installed build, or null when the directory holds none (or an unfinished one). */
export function readLlamaServerInstall(dir: string): LlamaServerInstall | null {
    const stampPath = path.join(dir, "build.json");
    if (!existsSync(stampPath)) return null;
    let stamp: LlamaServerBuildStamp;
    try {
        stamp = JSON.parse(readFileSync(stampPath, "utf8")) as LlamaServerBuildStamp;
    } catch {
        return null;
    }
    const serverPath = path.join(dir, "bin", exe("llama-server"));
    const batchedBenchPath = path.join(dir, "bin", exe("llama-batched-bench"));
    if (!existsSync(serverPath)) return null;
    return { dir, serverPath, batchedBenchPath, stamp };
}

/**
 * The llama-server that `quandex engine build` installed for the release node-llama-cpp bundles,
 * or null. With several variants built, a GPU one wins over `cpu`.
 */
export function findBuiltLlamaServer(home: string, variant?: LlamaServerVariant): LlamaServerInstall | null {
    let release: string;
    try {
        release = bundledLlamaCppSource().release;
    } catch {
        return null;
    }
    const order: readonly LlamaServerVariant[] = variant ? [variant] : ["cuda", "vulkan", "metal", "cpu"];
    for (const v of order) {
        const install = readLlamaServerInstall(llamaServerInstallDir(home, release, v));
        if (install) return install;
    }
    return null;
}

/**
 * Compiles `llama-server` (and `llama-batched-bench`) with cmake from the llama.cpp source that
 * node-llama-cpp ships, with no network, and installs them into `<home>/engines/<release>/<variant>/bin`.
 * Idempotent: a build whose stamp (release, commit, variant, flags) matches is kept as is.
 *
 * @throws LlamaServerBuildError when a tool is missing or the compiler fails (the log path is in the error).
 */
export async function buildLlamaServer(options: BuildLlamaServerOptions): Promise<BuildLlamaServerResult> {
    const progress = options.onProgress ?? (() => undefined);
    const variant = options.variant ?? defaultLlamaServerVariant();
    const source = bundledLlamaCppSource();
    const dir = llamaServerInstallDir(options.home, source.release, variant);
    const workDir = path.join(dir, ".build");
    const logPath = path.join(dir, "build.log");
    const cmakeFlags = llamaServerCmakeFlags(variant);
    const commit = await bundleHead(source.bundlePath);

    const existing = readLlamaServerInstall(dir);
    if (!options.force && existing && stampMatches(existing.stamp, { release: source.release, commit, variant, cmakeFlags })) {
        return { install: existing, skipped: true, logPath };
    }

    await requireTool("cmake", ["--version"], "install cmake (e.g. `apt-get install cmake`)");
    await requireTool("git", ["--version"], "install git: the llama.cpp source is a git bundle");
    const jobs = options.jobs ?? Math.max(1, os.availableParallelism());
    options.onStart?.({ release: source.release, variant, dir, jobs });
    mkdirSync(dir, { recursive: true });
    const unlock = lock(dir);
    const log = openSync(logPath, "w");
    const started = Date.now();
    try {
        const srcDir = path.join(workDir, "src");
        const outDir = path.join(workDir, "out");
        if (!existsSync(srcDir) || (await gitHead(srcDir)) !== commit) {
            progress(`extracting llama.cpp ${source.release} (${commit.slice(0, 7)}) from ${source.bundlePath}`);
            rmSync(workDir, { recursive: true, force: true });
            mkdirSync(workDir, { recursive: true });
            await run("git", ["clone", "--quiet", source.bundlePath, srcDir], { log, signal: options.signal });
            await run("git", ["-C", srcDir, "checkout", "--quiet", "--detach", commit], { log, signal: options.signal });
        }
        progress(`configuring (${variant}): cmake ${cmakeFlags.join(" ")}`);
        await run("cmake", ["-S", srcDir, "-B", outDir, ...cmakeFlags], { log, signal: options.signal });
        progress(`compiling ${llamaServerTargets.join(", ")} with ${jobs} jobs`);
        let lastPercent = -1;
        await run("cmake", ["--build", outDir, "--config", "Release", "-j", String(jobs), "--target", ...llamaServerTargets], {
            log,
            signal: options.signal,
            onLine: (line) => {
                const match = /^\[\s*(\d+)%\]/.exec(line);
                if (!match) return;
                const percent = Number(match[1]);
                if (percent >= lastPercent + 5 || (percent === 100 && lastPercent !== 100)) {
                    lastPercent = percent;
                    progress(`${String(percent).padStart(3)}% ${line.replace(/^\[\s*\d+%\]\s*/, "")}`);
                }
            }
        });
        const binDir = path.join(dir, "bin");
        mkdirSync(binDir, { recursive: true });
        rmSync(path.join(dir, "build.json"), { force: true });
        for (const target of llamaServerTargets) {
            const built = findBuiltBinary(outDir, exe(target));
            const tmp = path.join(binDir, `.${exe(target)}.tmp`);
            copyFileSync(built, tmp);
            renameSync(tmp, path.join(binDir, exe(target)));
        }
        const stamp: LlamaServerBuildStamp = {
            release: source.release,
            commit,
            variant,
            cmakeFlags,
            targets: [...llamaServerTargets],
            builtAt: new Date().toISOString(),
            durationSeconds: Math.round((Date.now() - started) / 1000)
        };
        writeFileSync(path.join(dir, "build.json"), `${JSON.stringify(stamp, null, 2)}\n`);
        if (!options.keepBuildDir) rmSync(workDir, { recursive: true, force: true });
        const install = readLlamaServerInstall(dir);
        if (!install) throw new LlamaServerBuildError(`the build finished but ${dir} holds no llama-server`, logPath);
        return { install, skipped: false, logPath };
    } catch (error) {
        if (error instanceof LlamaServerBuildError) throw new LlamaServerBuildError(error.message, logPath);
        throw error;
    } finally {
        closeSync(log);
        unlock();
    }
}

function stampMatches(stamp: LlamaServerBuildStamp, want: { release: string; commit: string; variant: LlamaServerVariant; cmakeFlags: string[] }): boolean {
    return (
        stamp.release === want.release &&
        stamp.commit === want.commit &&
        stamp.variant === want.variant &&
        JSON.stringify(stamp.cmakeFlags) === JSON.stringify(want.cmakeFlags) &&
        JSON.stringify(stamp.targets) === JSON.stringify(llamaServerTargets)
    );
}

function findBuiltBinary(outDir: string, name: string): string {
    for (const candidate of [path.join(outDir, "bin", name), path.join(outDir, "bin", "Release", name)]) {
        if (existsSync(candidate)) return candidate;
    }
    throw new LlamaServerBuildError(`cmake finished but ${name} is not in ${path.join(outDir, "bin")}`);
}

/** One build per install directory at a time; a lock left by a dead process is taken over. */
function lock(dir: string): () => void {
    const taken = takePidLock(path.join(dir, ".build.lock"));
    if ("release" in taken) return taken.release;
    throw new LlamaServerBuildError(taken.heldBy > 0 ? `another build (pid ${taken.heldBy}) is running in ${dir}` : `cannot lock ${dir}`);
}

async function bundleHead(bundlePath: string): Promise<string> {
    const out = await capture("git", ["bundle", "list-heads", bundlePath]);
    const head = /^([0-9a-f]{40})\s+HEAD$/m.exec(out) ?? /^([0-9a-f]{40})\s/m.exec(out);
    if (!head) throw new LlamaServerBuildError(`cannot read the commit of ${bundlePath}`);
    return head[1]!;
}

async function gitHead(dir: string): Promise<string | null> {
    try {
        return (await capture("git", ["-C", dir, "rev-parse", "HEAD"])).trim();
    } catch {
        return null;
    }
}

async function requireTool(command: string, args: string[], hint: string): Promise<void> {
    try {
        await capture(command, args);
    } catch {
        throw new LlamaServerBuildError(`'${command}' is needed to build llama-server: ${hint}`);
    }
}

function capture(command: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (out += d.toString()));
        child.once("error", reject);
        child.once("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(" ")} exited with ${code}: ${out.trim()}`))));
    });
}

/** Runs a build step with its output appended to the log; `onLine` sees each output line. */
function run(command: string, args: string[], options: { log: number; signal?: AbortSignal; onLine?: (line: string) => void }): Promise<void> {
    return new Promise((resolve, reject) => {
        writeSync(options.log, `\n$ ${command} ${args.join(" ")}\n`);
        const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], signal: options.signal });
        let partial = "";
        const tail: string[] = [];
        const onData = (data: Buffer): void => {
            writeSync(options.log, data);
            const lines = (partial + data.toString()).split("\n");
            partial = lines.pop() ?? "";
            for (const line of lines) {
                tail.push(line);
                if (tail.length > 30) tail.shift();
                options.onLine?.(line);
            }
        };
        child.stdout.on("data", onData);
        child.stderr.on("data", onData);
        child.once("error", (error) => reject(new LlamaServerBuildError(`${command} failed to start: ${error.message}`)));
        child.once("close", (code, signal) => {
            if (code === 0) return resolve();
            const reason = signal ? `was killed by ${signal}` : `exited with code ${code}`;
            reject(new LlamaServerBuildError(`${command} ${args.slice(0, 2).join(" ")} ${reason}:\n${tail.join("\n")}`));
        });
    });
}

function readJsonField(file: string, field: string): string | undefined {
    try {
        const value = (JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>)[field];
        return typeof value === "string" ? value : undefined;
    } catch {
        return undefined;
    }
}

function exe(name: string): string {
    return process.platform === "win32" ? `${name}.exe` : name;
}
