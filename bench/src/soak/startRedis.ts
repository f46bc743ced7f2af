import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../process/childServer.js";

/** A throwaway `redis-server` (Debian's, installed by scripts/setup.sh) on a free loopback port in its own temp dir. */
export async function startRedis(): Promise<{
    url: string;
    stop(): Promise<void>;
}> {
    const dir = await mkdtemp(join(tmpdir(), "quandex-soak-redis-"));
    const port = await freePort();
    const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no"], {
        stdio: ["ignore", "pipe", "pipe"]
    });
    const killOnExit = (): void => void child.kill("SIGKILL");
    process.once("exit", killOnExit);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    let output = "";
    await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${output}`)), 10_000);
        child.on("error", (error) => reject(new Error(`redis-server could not start (scripts/setup.sh installs it): ${error.message}`)));
        child.stdout.on("data", (chunk: Buffer) => {
            output += chunk.toString();
            if (output.includes("Ready to accept connections")) {
                clearTimeout(timer);
                resolve();
            }
        });
        child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
        void exited.then(() => reject(new Error(`redis-server exited:\n${output}`)));
    });
    return {
        url: `redis://127.0.0.1:${port}`,
        async stop() {
            child.kill("SIGKILL");
            await exited;
            process.off("exit", killOnExit);
            await rm(dir, { recursive: true, force: true });
        }
    };
}
