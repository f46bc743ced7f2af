import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../paths.js";
import { freePort, startChildServer, stopChildServer, waitFor, type ChildServer } from "./childServer.js";

const execFileAsync = promisify(execFile);

/** The CLI entry the benchmark drives, relative to the repository root. */
export const quandexBin = "packages/server/bin/quandex.js";

export type BenchModelConfig = {
    id: string;
    path: string;
    /** Sequences of the model's context: at least the highest concurrency level. */
    parallel: number;
    contextSize: number;
    /** Decode threads; omitted from the config when `undefined`, so the engine's default applies. */
    threads: number | undefined;
};

/** The `engine` section of the config; the in-process engine when omitted (named, since the server's default is `auto`). */
export type BenchEngineConfig = { type: "node-llama-cpp"; build?: "auto" | "prebuilt" } | { type: "llama-server"; path: string };

export type QuandexServerOptions = {
    models: BenchModelConfig[];
    /** Defaults to the in-process engine (no `engine` section). */
    engine?: BenchEngineConfig;
    /** A fresh folder for the server's models dir, data dir, config and log. */
    workDir: string;
    /** `server.max_queue`. Defaults to 256. */
    maxQueue?: number;
    /** Milliseconds to wait for the server and its models. Defaults to 180000. */
    readyTimeoutMs?: number;
    /** `server.prompt_cache`. Defaults to the server's default (`per_key`). */
    promptCache?: "per_key" | "shared" | "off";
};

export type QuandexServer = {
    baseUrl: string;
    apiKey: string;
    pid: number;
    /** Whether `keys create --unlimited` worked; if not, the config lifts the default limits instead. */
    unlimitedKey: boolean;
    configPath: string;
    configYaml: string;
    /** The serve command line, for the report. */
    command: string;
    logPath: string;
    stop(): Promise<void>;
};

/**
 * Starts `quandex serve` as a child process on a free port with a generated config, creates an API
 * key for it and waits until every model is loaded.
 */
export async function startQuandexServer({
    models,
    engine = { type: "node-llama-cpp" },
    workDir,
    maxQueue = 256,
    readyTimeoutMs = 180_000,
    promptCache
}: QuandexServerOptions): Promise<QuandexServer> {
    const dataDir = join(workDir, "data");
    const modelsDir = join(workDir, "models");
    await mkdir(dataDir, { recursive: true });
    await mkdir(modelsDir, { recursive: true });

    const { key, unlimited } = await createBenchKey(dataDir);
    const config = {
        server: {
            max_queue: maxQueue,
            ...(promptCache !== undefined && { prompt_cache: promptCache }),
            // Without an unlimited key, lift the per-key limits so they cannot throttle the benchmark.
            ...(unlimited ? {} : { limits: { default_rps: 1_000_000, default_burst: 1_000_000, default_daily: null } })
        },
        engine: engine.type === "llama-server" ? { type: engine.type, path: engine.path } : { type: "node-llama-cpp", ...(engine.build === "prebuilt" && { build: "prebuilt" }) },
        models: models.map((model) => ({
            id: model.id,
            path: model.path,
            parallel: model.parallel,
            context_size: model.contextSize,
            ...(model.threads !== undefined && { threads: model.threads }),
            preload: true
        }))
    };
    const configYaml = toYaml(config);
    const configPath = join(workDir, "quandex.yaml");
    await writeFile(configPath, configYaml);

    const port = await freePort();
    const args = [quandexBin, "serve", "--port", String(port), "--models-dir", modelsDir, "--data-dir", dataDir, "--config", configPath];
    const server = startChildServer(args, { logPath: join(workDir, "server.log"), cwd: repoRoot });
    const baseUrl = `http://127.0.0.1:${port}`;
    const stop = (): Promise<void> => stopChildServer(server);
    try {
        await waitFor(server, "GET /health", async () => ((await fetch(`${baseUrl}/health`)).ok ? true : undefined), readyTimeoutMs);
        for (const model of models) await waitForModel(server, baseUrl, key, model.id, readyTimeoutMs);
    } catch (error) {
        await stop();
        throw error;
    }
    return {
        baseUrl,
        apiKey: key,
        pid: server.child.pid!,
        unlimitedKey: unlimited,
        configPath,
        configYaml,
        command: `node ${args.join(" ")}`,
        logPath: server.logPath,
        stop
    };
}

/**
 * The decode threads the server gave a model, from its "model loaded" log line (both engines log
 * `threads`, and `threadsAuto` when the count follows each batch up to it); `null` when the log does not say.
 */
export function loadedThreads(logPath: string, modelId: string): { threads: number; perBatch: boolean } | null {
    const entry = logEntries<{ model?: string; threads?: unknown; threadsAuto?: unknown }>(logPath, "model loaded").find(
        (e) => e.model === modelId && typeof e.threads === "number"
    );
    return entry ? { threads: entry.threads as number, perBatch: entry.threadsAuto === true && (entry.threads as number) > 1 } : null;
}

/** Which llama.cpp build the server runs (`prebuilt` or `local`), from its "quandex listening" log line; `null` when it does not say. */
export function runningBuild(logPath: string): "prebuilt" | "local" | null {
    const build = logEntries<{ engine?: { build?: unknown } }>(logPath, "quandex listening")[0]?.engine?.build;
    return build === "prebuilt" || build === "local" ? build : null;
}

/** The server's JSON log lines with message `msg`, parsed; none when the log cannot be read. */
function logEntries<T>(logPath: string, msg: string): T[] {
    let text: string;
    try {
        text = readFileSync(logPath, "utf8");
    } catch {
        return [];
    }
    const entries: T[] = [];
    for (const line of text.split("\n")) {
        if (!line.includes(`"${msg}"`)) continue;
        try {
            entries.push(JSON.parse(line) as T);
        } catch {
            // Not a JSON log line.
        }
    }
    return entries;
}

/** `quandex keys create ... --unlimited`, falling back to a plain key on a CLI that lacks the flag. */
async function createBenchKey(dataDir: string): Promise<{ key: string; unlimited: boolean }> {
    const base = [quandexBin, "keys", "create", "--name", "bench", "--scopes", "generate,read,admin", "--json", "--data-dir", dataDir];
    const run = async (args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> => {
        try {
            const { stdout, stderr } = await execFileAsync(process.execPath, args, { cwd: repoRoot, timeout: 60_000 });
            return { ok: true, stdout, stderr };
        } catch (error) {
            const failed = error as { stdout?: string; stderr?: string; message: string };
            return { ok: false, stdout: failed.stdout ?? "", stderr: failed.stderr ?? failed.message };
        }
    };
    let unlimited = true;
    let result = await run([...base, "--unlimited"]);
    if (!result.ok && /unknown option|unlimited/i.test(result.stderr)) {
        unlimited = false;
        result = await run(base);
    }
    if (!result.ok) throw new Error(`quandex keys create failed: ${result.stderr.trim()}`);
    const created = JSON.parse(result.stdout) as { key?: unknown };
    if (typeof created.key !== "string") throw new Error(`quandex keys create --json printed no key: ${result.stdout.slice(0, 200)}`);
    return { key: created.key, unlimited };
}

async function waitForModel(server: ChildServer, baseUrl: string, apiKey: string, id: string, timeoutMs: number): Promise<void> {
    const headers = { authorization: `Bearer ${apiKey}` };
    let loadRequested = false;
    await waitFor(
        server,
        `model ${id} to be ready`,
        async () => {
            const response = await fetch(`${baseUrl}/v1/models/${encodeURIComponent(id)}`, { headers });
            if (!response.ok) throw new Error(`GET /v1/models/${id}: HTTP ${response.status} ${await response.text()}`);
            const entry = (await response.json()) as { status?: string; error?: string | null };
            if (entry.status === "ready") return true;
            if (entry.status === "error") throw new Error(`model ${id} failed to load: ${entry.error}`);
            if (entry.status === "unloaded" && !loadRequested) {
                loadRequested = true;
                await fetch(`${baseUrl}/v1/models/${encodeURIComponent(id)}/load`, { method: "POST", headers });
            }
            return undefined;
        },
        timeoutMs
    );
}

/** YAML for plain nested objects, arrays and scalars (strings as JSON, which YAML reads as double-quoted). */
export function toYaml(value: unknown, indent = ""): string {
    if (Array.isArray(value)) {
        return value
            .map((item) => {
                const body = toYaml(item, `${indent}  `);
                return isPlainObject(item) || Array.isArray(item) ? `${indent}- ${body.trimStart()}` : `${indent}- ${body}\n`;
            })
            .join("");
    }
    if (isPlainObject(value)) {
        return Object.entries(value)
            .map(([key, item]) => (isPlainObject(item) || Array.isArray(item) ? `${indent}${key}:\n${toYaml(item, `${indent}  `)}` : `${indent}${key}: ${toYaml(item)}\n`))
            .join("");
    }
    return value === null ? "null" : typeof value === "string" ? JSON.stringify(value) : String(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}
