import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const cliPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bin/quandex.js");

export interface ServerProcess {
    child: ChildProcess;
    url: string;
    output(): string;
    /** Resolves with the exit code. */
    exited: Promise<number | null>;
    stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs `quandex serve` as a real process on a free port and waits until it listens. */
export async function startServerProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
    const child = spawn(process.execPath, [cliPath, "serve", "--port", "0", "--log-level", "info", ...args], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"]
    });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 20_000);
        const check = (): void => {
            const match = /"url":"(http:\/\/[^"]+)"/.exec(out);
            if (match) {
                clearTimeout(timer);
                resolve(match[1]!);
            }
        };
        child.stdout!.on("data", check);
        void exited.then((code) => {
            clearTimeout(timer);
            reject(new Error(`server exited with ${code} before listening:\n${out}`));
        });
    });
    return {
        child,
        url,
        output: () => out,
        exited,
        async stop(signal = "SIGTERM") {
            if (child.exitCode === null) child.kill(signal);
            return exited;
        }
    };
}

/** Runs a `quandex` command to completion. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.once("exit", (code) => resolve({ code, stdout, stderr }));
    });
}
