import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A throwaway `redis-server` for tests: loopback only, a free port, no persistence, in a temp dir.
 * It can be killed and started again on the same port, to test outages and recovery. The process
 * is SIGKILLed if the test process exits without stopping it.
 *
 *     const redis = await RedisServer.start();
 *     try { ... redis.url ... } finally { await redis.stop(); }
 */
export class RedisServer {
    readonly port: number;
    readonly dir: string;
    /** Append-only file on (fsync per write): what was written survives a kill and a restart. */
    readonly persist: boolean;
    #child: ChildProcess | null = null;
    readonly #killOnExit = (): void => {
        this.#child?.kill("SIGKILL");
    };

    private constructor(port: number, dir: string, persist: boolean) {
        this.port = port;
        this.dir = dir;
        this.persist = persist;
        process.once("exit", this.#killOnExit);
    }

    /** Whether `redis-server` is installed; where it is not, suites skip through `allowedSkip` (a failure under CI). */
    static available(): boolean {
        return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
    }

    /** Starts a server on a free loopback port (or `port`) and waits until it accepts connections. */
    static async start(options: { port?: number; persist?: boolean } = {}): Promise<RedisServer> {
        const server = new RedisServer(options.port ?? (await freePort()), mkdtempSync(join(tmpdir(), "quandex-redis-")), options.persist ?? false);
        await server.restart();
        return server;
    }

    get url(): string {
        return `redis://127.0.0.1:${this.port}`;
    }

    get running(): boolean {
        return this.#child !== null;
    }

    /** (Re)starts the server on the same port: empty, or with what it held when `persist` is set. */
    async restart(): Promise<void> {
        if (this.#child) throw new Error("redis-server is already running");
        const child = spawn(
            "redis-server",
            [
                "--port",
                String(this.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                this.persist ? "yes" : "no",
                "--appendfsync",
                "always",
                "--dir",
                this.dir,
                "--protected-mode",
                "no"
            ],
            { stdio: ["ignore", "pipe", "pipe"] }
        );
        this.#child = child;
        let output = "";
        await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${output}`)), 10_000);
            const onData = (chunk: Buffer): void => {
                output += chunk.toString();
                if (output.includes("Ready to accept connections")) {
                    clearTimeout(timer);
                    child.stdout?.off("data", onData);
                    child.stdout?.resume();
                    resolve();
                }
            };
            child.stdout?.on("data", onData);
            child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
            child.once("exit", (code) => {
                clearTimeout(timer);
                this.#child = null;
                reject(new Error(`redis-server exited with ${code}:\n${output}`));
            });
        });
        child.removeAllListeners("exit");
        child.once("exit", () => {
            if (this.#child === child) this.#child = null;
        });
    }

    /** SIGKILLs the server (a crash: sockets are reset, nothing is flushed) and waits for it to be gone. */
    async kill(): Promise<void> {
        const child = this.#child;
        if (!child) return;
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGKILL");
        await exited;
        this.#child = null;
    }

    /** SIGSTOPs the server: connections stay open but nothing answers (a hung Redis). */
    pause(): void {
        this.#child?.kill("SIGSTOP");
    }

    resume(): void {
        this.#child?.kill("SIGCONT");
    }

    /** Kills the server and removes its temp dir. */
    async stop(): Promise<void> {
        this.resume();
        await this.kill();
        process.off("exit", this.#killOnExit);
        rmSync(this.dir, { recursive: true, force: true });
    }
}

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            const port = typeof address === "object" && address ? address.port : 0;
            server.close(() => resolve(port));
        });
    });
}
