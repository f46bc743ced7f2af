import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** A server process started by the benchmark, its output going to a log file (never a pipe that could fill up and stall it). */
export type ChildServer = {
    child: ChildProcess;
    logPath: string;
    /** Why it exited, once it has. */
    exited: Promise<string>;
};

/** Starts `node <args>` with stdout and stderr appended to `logPath`. */
export function startChildServer(args: string[], { logPath, cwd, env }: { logPath: string; cwd: string; env?: NodeJS.ProcessEnv }): ChildServer {
    const log = openSync(logPath, "a");
    try {
        const child = spawn(process.execPath, args, { cwd, env: env ?? process.env, stdio: ["ignore", log, log] });
        const exited = new Promise<string>((resolve) => {
            child.once("exit", (code, signal) => resolve(signal != null ? `signal ${signal}` : `exit code ${code}`));
            child.once("error", (error) => resolve(`spawn error: ${error.message}`));
        });
        return { child, logPath, exited };
    } finally {
        closeSync(log); // the child holds its own descriptor
    }
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopChildServer(server: ChildServer, graceMs = 15_000): Promise<void> {
    if (server.child.exitCode != null || server.child.signalCode != null) return;
    server.child.kill("SIGTERM");
    const timedOut = await Promise.race([server.exited.then(() => false), sleep(graceMs).then(() => true)]);
    if (timedOut) {
        server.child.kill("SIGKILL");
        await server.exited;
    }
}

/**
 * Polls `probe` every 100 ms until it returns a value other than `undefined`.
 * @throws when the child exits first or `timeoutMs` passes; the message carries the log's tail.
 */
export async function waitFor<T>(server: ChildServer, what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
    let exitReason: string | null = null;
    void server.exited.then((reason) => (exitReason = reason));
    const deadline = performance.now() + timeoutMs;
    let lastError = "";
    while (performance.now() < deadline) {
        if (exitReason != null) throw new Error(`server exited (${exitReason}) while waiting for ${what}\n${logTail(server.logPath)}`);
        try {
            const value = await probe();
            if (value !== undefined) return value;
        } catch (error) {
            lastError = error instanceof Error ? error.message : String(error);
        }
        await sleep(100);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ""}\n${logTail(server.logPath)}`);
}

export function logTail(logPath: string, lines = 30): string {
    try {
        return readFileSync(logPath, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
        return "(no log)";
    }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            const port = typeof address === "object" && address != null ? address.port : 0;
            server.close(() => resolve(port));
        });
    });
}

/** Resident set size of a process from `/proc/<pid>/status` (VmRSS), in bytes; `null` where /proc is missing. */
export function readRssBytes(pid: number): number | null {
    try {
        const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        return match == null ? null : Number(match[1]) * 1024;
    } catch {
        return null;
    }
}
