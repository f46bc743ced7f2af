import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** A server process started by the benchmark, its output going to a log file (never a pipe that could fill up and stall it). */
export type ChildServer = {
    child: ChildProcess;
    logPath: string;
    /** Why it exited, once it has. */
    exited: Promise<string>;
};

/** Starts `node <args>` (or `command <args>`) with stdout and stderr appended to `logPath`. */
export function startChildServer(
    args: string[],
    { logPath, cwd, env, command = process.execPath }: { logPath: string; cwd: string; env?: NodeJS.ProcessEnv; command?: string }
): ChildServer {
    const log = openSync(logPath, "a");
    try {
        const child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ["ignore", log, log] });
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

/** Pids of every descendant of `pid` (children, their children, ...), from `/proc/<pid>/stat`; empty where /proc is missing. */
export function descendantPids(pid: number): number[] {
    const parents = new Map<number, number[]>();
    let entries: string[];
    try {
        entries = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
    } catch {
        return [];
    }
    for (const name of entries) {
        try {
            const stat = readFileSync(`/proc/${name}/stat`, "utf8");
            // The command name (field 2) may hold spaces and parentheses: the fields after its last ")" are fixed.
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            const list = parents.get(ppid) ?? [];
            list.push(Number(name));
            parents.set(ppid, list);
        } catch {
            // It exited meanwhile.
        }
    }
    const found: number[] = [];
    const queue = [pid];
    while (queue.length > 0) {
        for (const child of parents.get(queue.shift()!) ?? []) {
            found.push(child);
            queue.push(child);
        }
    }
    return found;
}

/** A process's argv from `/proc/<pid>/cmdline`, or `null`. */
export function readCmdline(pid: number): string[] | null {
    try {
        const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        return raw.split("\0").filter((part, index, all) => part !== "" || index < all.length - 1);
    } catch {
        return null;
    }
}

/** CPU time (user + system, every thread) a process has used so far, in ms, from `/proc/<pid>/stat`; `null` where /proc is missing. */
export function readCpuMs(pid: number): number | null {
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        // Fields 14 and 15 (utime, stime) of the full line; here, after "pid (comm) ", they are at 11 and 12, in clock ticks (USER_HZ, 100 on Linux).
        return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    } catch {
        return null;
    }
}

/** Runs `work` and returns its result with the CPU ms used meanwhile by the processes `pids` (summed) and by this process. */
export async function measureCpu<T>(pids: readonly number[], work: () => Promise<T>): Promise<{ result: T; generator: number | null; client: number }> {
    const total = (): number | null => {
        if (pids.length === 0) return null;
        let sum = 0;
        for (const pid of pids) {
            const ms = readCpuMs(pid);
            if (ms == null) return null;
            sum += ms;
        }
        return sum;
    };
    const generatorBefore = total();
    const clientBefore = process.cpuUsage();
    const result = await work();
    const client = process.cpuUsage(clientBefore);
    const generatorAfter = total();
    return {
        result,
        generator: generatorBefore == null || generatorAfter == null ? null : generatorAfter - generatorBefore,
        client: (client.user + client.system) / 1000
    };
}
