import os from "node:os";
import path from "node:path";
import { InvalidArgumentError, type Command } from "commander";
import {
    buildLlamaServer,
    buildNodeLlamaCppLocal,
    hasNodeLlamaCppLocalBuild,
    nodeLlamaCppLocalBuildPlan,
    defaultLlamaServerVariant,
    findBuiltLlamaServer,
    inspectLlamaServer,
    llamaServerVariants,
    LlamaServerBuildError,
    type LlamaServerVariant
} from "@quandex/engine";

interface BuildFlags {
    for: "llama-server" | "node-llama-cpp";
    dryRun?: boolean;
    gpu?: LlamaServerVariant;
    jobs?: number;
    force?: boolean;
    keepBuildDir?: boolean;
    json?: boolean;
}

/** `quandex engine build|path|check`: the llama-server binary behind `engine: {type: llama-server}`. */
export function register(program: Command): void {
    const engine = program.command("engine").description("Build and check the engines' llama.cpp binaries (llama-server, and node-llama-cpp's optional local build)");

    engine
        .command("build")
        .description(
            "Compile llama-server (default), or with --for node-llama-cpp the in-process engine's optional OpenMP build, " +
                "from the llama.cpp source bundled with node-llama-cpp (no network; 12-15 min on 2 cores)"
        )
        .option("--for <engine>", "llama-server (default) | node-llama-cpp", parseEngine, "llama-server")
        .option("--dry-run", "node-llama-cpp: print the build command without running it")
        .option("--gpu <variant>", `back end to build for: ${llamaServerVariants.join("|")} (default ${defaultLlamaServerVariant()})`, parseVariant)
        .option("--jobs <n>", "parallel compile jobs (default: the number of cores)", parseJobs)
        .option("--force", "rebuild even when a matching build is installed")
        .option("--keep-build-dir", "keep the source and object files for faster rebuilds")
        .option("--json", "print the result as JSON")
        .action(async (flags: BuildFlags) => {
            const home = quandexHome();
            const variant = flags.gpu ?? defaultLlamaServerVariant();
            const say = (line: string): void => void process.stderr.write(`${line}\n`);
            if (flags.for === "node-llama-cpp") return buildInProcess(flags, variant, say);
            if (flags.dryRun) throw new Error("--dry-run applies to --for node-llama-cpp");
            let result;
            try {
                result = await buildLlamaServer({
                    home,
                    variant,
                    jobs: flags.jobs,
                    force: flags.force,
                    keepBuildDir: flags.keepBuildDir,
                    onStart: ({ release, dir, jobs }) =>
                        say(
                            `Building llama-server ${release} (${variant}) from the llama.cpp source bundled with node-llama-cpp, with no network.\n` +
                                `This takes about 15 minutes on 2 cores (${jobs} parallel jobs here). It installs into ${dir}.`
                        ),
                    onProgress: (line) => say(`  ${line}`)
                });
            } catch (error) {
                if (error instanceof LlamaServerBuildError) {
                    throw new Error(`building llama-server failed: ${error.message}${error.logPath ? `\nFull log: ${error.logPath}` : ""}`, { cause: error });
                }
                throw error;
            }
            const { install } = result;
            if (flags.json) {
                process.stdout.write(`${JSON.stringify({ skipped: result.skipped, path: install.serverPath, ...install.stamp }, null, 2)}\n`);
                return;
            }
            if (result.skipped) say(`llama-server ${install.stamp.release} (${variant}) is already built with these flags; nothing to do (--force rebuilds).`);
            else say(`Built in ${formatDuration(install.stamp.durationSeconds)}. Compiler log: ${result.logPath}`);
            say(`Use it with this config (path defaults to the built binary):\n  engine:\n    type: llama-server`);
            process.stdout.write(`${install.serverPath}\n`);
        });

    engine
        .command("path")
        .description("Print the path of the built llama-server (exit status 1 when none is built)")
        .option("--gpu <variant>", `only this variant: ${llamaServerVariants.join("|")}`, parseVariant)
        .action((flags: { gpu?: LlamaServerVariant }) => {
            const install = findBuiltLlamaServer(quandexHome(), flags.gpu);
            if (!install) {
                process.stderr.write("No llama-server is built. Run `quandex engine build`.\n");
                process.exitCode = 1;
                return;
            }
            process.stdout.write(`${install.serverPath}\n`);
        });

    engine
        .command("check")
        .description("Check that a llama-server binary can be driven by Quandex (version, flags, devices)")
        .argument("[path]", "the binary (default: the built one)")
        .action(async (binary: string | undefined) => {
            const target = binary ?? findBuiltLlamaServer(quandexHome())?.serverPath;
            if (!target) throw new Error("no llama-server is built; run `quandex engine build` or pass a path");
            const info = await inspectLlamaServer(path.resolve(target));
            process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
        });
}

function quandexHome(): string {
    return process.env.QUANDEX_HOME || path.join(os.homedir(), ".quandex");
}

function parseVariant(value: string): LlamaServerVariant {
    if (!(llamaServerVariants as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${llamaServerVariants.join(", ")}`);
    return value as LlamaServerVariant;
}

function parseJobs(value: string): number {
    const jobs = Number(value);
    if (!Number.isInteger(jobs) || jobs < 1) throw new InvalidArgumentError("expected a positive integer");
    return jobs;
}

function formatDuration(seconds: number): string {
    const minutes = Math.floor(seconds / 60);
    return minutes > 0 ? `${minutes} min ${seconds % 60} s` : `${seconds} s`;
}

/** `engine build --for node-llama-cpp`: node-llama-cpp's local build, which the in-process engine prefers once present. */
async function buildInProcess(flags: BuildFlags, variant: LlamaServerVariant, say: (line: string) => void): Promise<void> {
    if (flags.jobs !== undefined || flags.keepBuildDir) throw new Error("--jobs and --keep-build-dir apply to the llama-server build only");
    const plan = nodeLlamaCppLocalBuildPlan(variant);
    if (flags.dryRun) {
        process.stdout.write(flags.json ? `${JSON.stringify(plan, null, 2)}\n` : `${plan.command.join(" ")}\n`);
        return;
    }
    if (!flags.force && (await hasNodeLlamaCppLocalBuild(variant))) {
        say(`node-llama-cpp already has a local build for ${variant}; nothing to do (--force rebuilds).`);
        if (flags.json) process.stdout.write(`${JSON.stringify({ skipped: true, ...plan }, null, 2)}\n`);
        return;
    }
    say(
        `Building node-llama-cpp's local llama.cpp ${plan.release} (${variant}, OpenMP, native CPU flags) from the source its package bundles, with no network.\n` +
            "This takes about 12 minutes on 2 cores. The in-process engine loads it at its next start (/v1/stats engine.build: local);\n" +
            "`engine: {build: prebuilt}` in the config keeps the prebuilt binaries."
    );
    const started = performance.now();
    await buildNodeLlamaCppLocal(plan);
    say(`Built in ${formatDuration((performance.now() - started) / 1000)}. Restart \`quandex serve\` to use it.`);
    if (flags.json) process.stdout.write(`${JSON.stringify({ skipped: false, ...plan }, null, 2)}\n`);
}

function parseEngine(value: string): "llama-server" | "node-llama-cpp" {
    if (value !== "llama-server" && value !== "node-llama-cpp") throw new InvalidArgumentError("expected llama-server or node-llama-cpp");
    return value;
}
