import { execFile } from "node:child_process";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../paths.js";
import { freePort, readRssBytes, startChildServer, stopChildServer, waitFor, type ChildServer } from "../process/childServer.js";
import { quandexBin } from "../process/quandexServer.js";

const execFileAsync = promisify(execFile);

/** Which engine a soak server runs: in-process node-llama-cpp, or supervised llama-server children. */
export type SoakEngine = { type: "node-llama-cpp" } | { type: "llama-server"; path: string };

export type SoakServerOptions = {
    /** A folder the server keeps across restarts: models dir, data dir, config and log. */
    workDir: string;
    modelPath: string;
    modelId: string;
    engine: SoakEngine;
    parallel: number;
    contextSize: number;
    maxQueue: number;
    /** Shared store of keys and limits; SQLite in the data dir when omitted. */
    redisUrl?: string;
    /** Merged into the config's `server` section. */
    server?: Record<string, unknown>;
};

/**
 * A real `quandex serve` child process for the soak scenarios. Unlike the benchmark's server it
 * can be killed (any signal) and started again on the same data dir, port and config, which is
 * what the crash scenario needs; its output goes to `server.log` in the work dir.
 */
export class SoakServer {
    readonly options: SoakServerOptions;
    readonly dataDir: string;
    readonly logPath: string;
    #configPath: string;
    #modelsDir: string;
    #port = 0;
    #child: ChildServer | null = null;

    private constructor(options: SoakServerOptions) {
        this.options = options;
        this.dataDir = join(options.workDir, "data");
        this.#modelsDir = join(options.workDir, "models");
        this.#configPath = join(options.workDir, "quandex.json");
        this.logPath = join(options.workDir, "server.log");
    }

    /** Lays out the work dir and writes the config; `start()` runs the server. */
    static async create(options: SoakServerOptions): Promise<SoakServer> {
        const server = new SoakServer(options);
        await mkdir(server.dataDir, { recursive: true });
        await mkdir(server.#modelsDir, { recursive: true });
        const linked = join(server.#modelsDir, `${options.modelId}.gguf`);
        if (!existsSync(linked)) await symlink(options.modelPath, linked);
        const config = {
            server: {
                log_level: "info",
                max_queue: options.maxQueue,
                ...(options.redisUrl !== undefined && { redis_url: options.redisUrl }),
                ...options.server
            },
            engine: options.engine,
            models: [
                {
                    id: options.modelId,
                    path: linked,
                    parallel: options.parallel,
                    context_size: options.contextSize,
                    threads: 1,
                    preload: true
                }
            ]
        };
        await writeFile(server.#configPath, JSON.stringify(config, null, 2));
        server.#port = await freePort();
        return server;
    }

    get baseUrl(): string {
        return `http://127.0.0.1:${this.#port}`;
    }

    /** The server's pid while it runs. */
    get pid(): number {
        const pid = this.#child?.child.pid;
        if (pid === undefined) throw new Error("the soak server is not running");
        return pid;
    }

    /** The server's resident set size now, in bytes; null where /proc cannot be read. */
    rssBytes(): number | null {
        return readRssBytes(this.pid);
    }

    /** The `quandex serve` command line, for the figures' record. */
    get command(): string {
        return `node ${this.#serveArgs().join(" ")}`;
    }

    #serveArgs(): string[] {
        return [quandexBin, "serve", "--port", String(this.#port), "--models-dir", this.#modelsDir, "--data-dir", this.dataDir, "--config", this.#configPath];
    }

    /** Starts the server (again, on the same port and data dir) and waits until its model is ready. */
    async start(readyKey: string, timeoutMs = 120_000): Promise<void> {
        if (this.#child !== null) throw new Error("the soak server is already running");
        const child = startChildServer(this.#serveArgs(), {
            logPath: this.logPath,
            cwd: repoRoot
        });
        this.#child = child;
        void child.exited.then(() => {
            if (this.#child === child) this.#child = null;
        });
        const headers = { authorization: `Bearer ${readyKey}` };
        await waitFor(
            child,
            `model ${this.options.modelId} to be ready`,
            async () => {
                const response = await fetch(`${this.baseUrl}/v1/models/${encodeURIComponent(this.options.modelId)}`, { headers });
                if (!response.ok) return undefined;
                const entry = (await response.json()) as {
                    status?: string;
                    error?: string | null;
                };
                if (entry.status === "error") throw new Error(`model failed to load: ${entry.error}`);
                return entry.status === "ready" ? true : undefined;
            },
            timeoutMs
        );
    }

    /** Sends `signal` and waits for the exit; SIGTERM escalates to SIGKILL after 15 s. Returns how it exited. */
    async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<string> {
        const child = this.#child;
        if (child === null) return "not running";
        if (signal === "SIGTERM") await stopChildServer(child);
        else child.child.kill(signal);
        const reason = await child.exited;
        this.#child = null;
        return reason;
    }

    /** Creates a key with the CLI (against the same store the server uses) and returns its id and secret. */
    async createKey(name: string, scopes: string, flags: string[] = []): Promise<{ id: string; key: string }> {
        const args = [quandexBin, "keys", "create", "--json", "--name", name, "--scopes", scopes, "--data-dir", this.dataDir, "--config", this.#configPath, ...flags];
        if (this.options.redisUrl !== undefined) args.push("--redis-url", this.options.redisUrl);
        const { stdout } = await execFileAsync(process.execPath, args, {
            cwd: repoRoot,
            timeout: 60_000
        });
        const created = JSON.parse(stdout) as { id: string; key: string };
        return { id: created.id, key: created.key };
    }

    /** The log so far; lines a scenario must never see (an unhandled rejection, a crash) are looked for here. */
    log(): string {
        try {
            return readFileSync(this.logPath, "utf8");
        } catch {
            return "";
        }
    }
}
