/**
 * Starts a real `quandex serve` (the built CLI) on a free port with the real test model, in a
 * temporary models dir and data dir, and creates API keys with the CLI. Used by the integration
 * tests; each test file starts its own server.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const repoRoot = fileURLToPath(new URL("../../../../../", import.meta.url));
export const cliPath = path.join(repoRoot, "packages/server/bin/quandex.js");
export const modelPath = process.env.QUANDEX_TEST_MODEL ?? path.resolve(repoRoot, "../shared/models/stories260K.gguf");
export const modelId = path.basename(modelPath).replace(/\.gguf$/i, "");

/** Why the integration tests cannot run here, or null when they can. */
export function unavailableReason(): string | null {
    if (!existsSync(path.join(repoRoot, "packages/server/dist/cli/main.js"))) return "the server is not built (run: npx tsc -b)";
    if (!existsSync(path.join(repoRoot, "packages/client/dist/index.js"))) return "the client is not built (run: npx tsc -b)";
    if (!existsSync(modelPath)) return `no test model at ${modelPath} (set QUANDEX_TEST_MODEL)`;
    return null;
}

export interface RunningServer {
    baseURL: string;
    port: number;
    dataDir: string;
    process: ChildProcess;
    /** stdout and stderr so far, for failure messages. */
    log: () => string;
    createKey: (scopes: string, extraFlags?: string[]) => Promise<string>;
    stop: (signal?: NodeJS.Signals) => Promise<void>;
}

export interface StartOptions {
    /** The config file's `server` section. */
    server?: Record<string, unknown>;
    /** The config file's `model_defaults`. */
    modelDefaults?: Record<string, unknown>;
    /** Aliases of the test model. */
    aliases?: string[];
}

export async function startQuandex(options: StartOptions = {}): Promise<RunningServer> {
    const root = await mkdtemp(path.join(tmpdir(), "quandex-client-it-"));
    const modelsDir = path.join(root, "models");
    const dataDir = path.join(root, "data");
    await mkdir(modelsDir, { recursive: true });
    await mkdir(dataDir, { recursive: true });
    const linked = path.join(modelsDir, `${modelId}.gguf`);
    await symlink(modelPath, linked);
    const configPath = path.join(root, "config.json");
    await writeFile(
        configPath,
        JSON.stringify({
            server: { log_level: "warn", ...options.server },
            model_defaults: { threads: 1, ...options.modelDefaults },
            models: [{ id: modelId, path: linked, aliases: options.aliases ?? [] }]
        })
    );
    const port = await freePort();
    const child = spawn(process.execPath, [cliPath, "serve", "--port", String(port), "--models-dir", modelsDir, "--data-dir", dataDir, "--config", configPath], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, QUANDEX_API_KEY: "", QUANDEX_BASE_URL: "" }
    });
    let output = "";
    child.stdout.on("data", (data: Buffer) => (output += data.toString()));
    child.stderr.on("data", (data: Buffer) => (output += data.toString()));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

    const server: RunningServer = {
        baseURL: `http://127.0.0.1:${port}/v1`,
        port,
        dataDir,
        process: child,
        log: () => output,
        createKey: async (scopes, extraFlags = []) => {
            const { stdout } = await promisify(execFile)(process.execPath, [
                cliPath,
                "keys",
                "create",
                "--name",
                `it-${scopes}`,
                "--scopes",
                scopes,
                "--json",
                "--data-dir",
                dataDir,
                ...extraFlags
            ]);
            return (JSON.parse(stdout) as { key: string }).key;
        },
        stop: async (signal = "SIGTERM") => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
            await exited;
            clearTimeout(timer);
            await rm(root, { recursive: true, force: true });
        }
    };

    const deadline = Date.now() + 60_000;
    for (;;) {
        if (child.exitCode !== null) throw new Error(`quandex serve exited with ${child.exitCode}:\n${output}`);
        try {
            const response = await fetch(`http://127.0.0.1:${port}/health`);
            if (response.ok && ((await response.json()) as { ready: boolean }).ready) return server;
        } catch {
            // not listening yet
        }
        if (Date.now() > deadline) {
            await server.stop("SIGKILL");
            throw new Error(`quandex serve did not become ready in 60 s:\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

/** A port that nothing listens on right now. */
export async function freePort(): Promise<number> {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const address = probe.address();
    await new Promise((resolve) => probe.close(resolve));
    if (address === null || typeof address === "string") throw new Error("no port");
    return address.port;
}
