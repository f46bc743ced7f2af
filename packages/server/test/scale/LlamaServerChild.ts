import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * A plain llama-server process serving the test model on a loopback port, as an upstream pool
 * endpoint sees one (not supervised by Quandex). It can be SIGKILLed and started again on the same
 * port. `--metrics` is on, so tests can read what it generated.
 */
export class LlamaServerChild {
    #child: ChildProcess | null = null;
    #log = "";
    readonly #killOnExit = (): void => {
        this.#child?.kill("SIGKILL");
    };

    private constructor(
        readonly binaryPath: string,
        readonly modelPath: string,
        readonly port: number,
        readonly args: readonly string[]
    ) {
        process.once("exit", this.#killOnExit);
    }

    static async start(binaryPath: string, modelPath: string, args: readonly string[] = []): Promise<LlamaServerChild> {
        const child = new LlamaServerChild(binaryPath, modelPath, await freePort(), args);
        await child.restart();
        return child;
    }

    get url(): string {
        return `http://127.0.0.1:${this.port}`;
    }

    get pid(): number | null {
        return this.#child?.pid ?? null;
    }

    log(): string {
        return this.#log;
    }

    async restart(): Promise<void> {
        if (this.#child) throw new Error("llama-server is already running");
        const child = spawn(
            this.binaryPath,
            ["--model", this.modelPath, "--host", "127.0.0.1", "--port", String(this.port), "--threads", "1", "--threads-batch", "1", "--metrics", "--no-webui", ...this.args],
            { stdio: ["ignore", "pipe", "pipe"] }
        );
        this.#child = child;
        child.stdout!.on("data", (d: Buffer) => (this.#log = (this.#log + d.toString()).slice(-20_000)));
        child.stderr!.on("data", (d: Buffer) => (this.#log = (this.#log + d.toString()).slice(-20_000)));
        child.once("exit", () => {
            if (this.#child === child) this.#child = null;
        });
        for (let i = 0; i < 300; i++) {
            if (!this.#child) throw new Error(`llama-server exited while starting:\n${this.#log}`);
            const ok = await fetch(`${this.url}/health`).then(
                (r) => r.status === 200,
                () => false
            );
            if (ok) return;
            await sleep(100);
        }
        throw new Error(`llama-server did not become healthy within 30 s:\n${this.#log}`);
    }

    /** `kill -9`, and waits until the process is gone. */
    async kill(): Promise<void> {
        const child = this.#child;
        if (!child) return;
        const gone = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await gone;
    }

    /** A counter or gauge from llama-server's Prometheus `/metrics`, e.g. `llamacpp:tokens_predicted_total`. */
    async metric(name: string): Promise<number> {
        const text = await (await fetch(`${this.url}/metrics`)).text();
        const line = text.split("\n").find((l) => l.startsWith(`${name} `));
        if (!line) throw new Error(`llama-server's /metrics has no ${name}:\n${text.slice(0, 2000)}`);
        return Number(line.split(" ")[1]);
    }

    async stop(): Promise<void> {
        await this.kill();
        process.off("exit", this.#killOnExit);
    }
}

export function freePort(): Promise<number> {
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
