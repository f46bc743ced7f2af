import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { constants as osConstants } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../Logger.js";
import { loopbackRequest } from "./loopbackHttp.js";

/**
 * The watchdog every llama-server runs under (POSIX sh, so it costs ~1 MB, not a second Node).
 * It starts the server, prints its pid on stdout, and reads its own stdin, a pipe from Quandex,
 * which is never written to: EOF means Quandex is gone (exit, crash, SIGKILL), and the watchdog
 * kills the server at once. It then exits with the server's status (128 + signal when killed).
 * The server's stdout goes to stderr, so stdout carries only the pid line.
 */
const watchdogScript = [
    "exec 3<&0",
    '"$@" </dev/null >&2 3<&- &',
    "child=$!",
    'echo "pid $child"',
    // Explicit redirection: a background list's stdin is /dev/null otherwise.
    '{ while read -r _; do :; done; kill -TERM "$child"; sleep 2; kill -KILL "$child"; } <&3 >/dev/null 2>&1 &',
    "watcher=$!",
    "exec 3<&-",
    'wait "$child"',
    "code=$?",
    'kill "$watcher" 2>/dev/null',
    'exit "$code"'
].join("\n");

export interface LlamaServerProcessOptions {
    binaryPath: string;
    /** llama-server arguments, without `--host` and `--port` (this class picks them). */
    args: readonly string[];
    /** For log lines. */
    modelId: string;
    logger: Logger;
    /** Aborting kills the server and rejects `start`. */
    signal?: AbortSignal;
    /** How long the model may take to load before the start fails. Defaults to `600_000`. */
    readyTimeoutMs?: number;
    /**
     * Once ready, how long the server may leave `/health` unanswered before it is taken for hung
     * (stopped, deadlocked, swapping) and killed; its exit then reads "hung". `0` turns the probe
     * off. Defaults to `15_000`.
     */
    watchdogTimeoutMs?: number;
}

/** Why a server process ended, in words for users and logs. */
export interface LlamaServerExit {
    code: number | null;
    signal: string | null;
    reason: string;
}

/**
 * One supervised llama-server child: started on a free loopback port under the watchdog, in its
 * own process group, ready once `/health` answers 200. Its output goes to the logger at debug
 * level with the model id. It never outlives Quandex: the watchdog kills it when our end of its
 * stdin pipe closes, which the kernel does when Quandex dies for any reason.
 */
export class LlamaServerProcess {
    private readonly exitListeners: Array<(exit: LlamaServerExit) => void> = [];
    private readonly logTail: string[] = [];
    private exitInfo: LlamaServerExit | null = null;
    private stopping = false;
    private serverPid: number | null = null;
    /** Set when the health watchdog killed the server; the exit reason says so. */
    private hungForMs: number | null = null;
    private readonly stderrEnded: Promise<void>;
    readonly exited: Promise<LlamaServerExit>;

    private constructor(
        private readonly child: ChildProcess,
        readonly url: string,
        readonly port: number,
        private readonly options: LlamaServerProcessOptions
    ) {
        this.stderrEnded = new Promise((resolve) => child.stderr!.once("end", () => resolve()));
        this.exited = new Promise((resolve) => {
            let finished = false;
            const finish = async (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error): Promise<void> => {
                if (finished) return;
                finished = true;
                // The last lines (often the reason) may still be in the pipe when the process ends.
                if (!spawnError) await Promise.race([this.stderrEnded, sleep(500)]);
                const exit = spawnError
                    ? { code: null, signal: null, reason: `could not be started (${spawnError.message})` }
                    : this.hungForMs !== null && !this.stopping
                      ? { code, signal, reason: `stopped answering its health check for ${Math.round(this.hungForMs / 1000)} s (hung) and was killed` }
                      : describeExit(code, signal, this.stopping, this.lastErrorLine());
                this.exitInfo = exit;
                // The watchdog is gone; whatever is left of its group (the server, if the watchdog
                // itself was killed) goes with it.
                killGroup(child.pid, "SIGKILL");
                if (!this.stopping) options.logger.error({ model: options.modelId, engine: "llama-server", code, signal }, `llama-server ${exit.reason}`);
                for (const listener of this.exitListeners.splice(0)) listener(exit);
                resolve(exit);
            };
            child.once("exit", (code, signal) => void finish(code, signal));
            child.once("error", (error) => void finish(null, null, error));
        });
    }

    /**
     * Starts a server and waits until its model is loaded.
     *
     * @throws Error naming the exit reason and llama.cpp's last error line when the server exits
     *   while loading; the abort reason when `signal` fires.
     */
    static async start(options: LlamaServerProcessOptions): Promise<LlamaServerProcess> {
        for (let attempt = 1; ; attempt++) {
            const port = await freePort();
            const server = LlamaServerProcess.spawn(options, port);
            try {
                await server.waitReady();
                server.watchHealth(options.watchdogTimeoutMs ?? 15_000);
                return server;
            } catch (error) {
                await server.stop();
                // Another program took the port between our probe and the server's bind.
                if (attempt < 3 && !options.signal?.aborted && server.logTail.some((l) => /couldn't bind|address already in use/i.test(l))) continue;
                throw error;
            }
        }
    }

    private static spawn(options: LlamaServerProcessOptions, port: number): LlamaServerProcess {
        const args = [...options.args, "--host", "127.0.0.1", "--port", String(port)];
        options.logger.debug({ model: options.modelId, engine: "llama-server", command: [options.binaryPath, ...args].join(" ") }, "starting llama-server");
        const child = spawn("/bin/sh", ["-c", watchdogScript, "quandex-llama-server-watchdog", options.binaryPath, ...args], {
            stdio: ["pipe", "pipe", "pipe"],
            // Its own process group: a terminal's Ctrl-C reaches Quandex, which drains before it stops
            // the servers, instead of killing them mid-request.
            detached: true
        });
        const server = new LlamaServerProcess(child, `http://127.0.0.1:${port}`, port, options);
        child.stdin!.on("error", () => undefined);
        lines(child.stdout!, (line) => {
            const match = /^pid (\d+)$/.exec(line);
            if (match) server.serverPid = Number(match[1]);
        });
        lines(child.stderr!, (line) => server.onLogLine(line));
        return server;
    }

    /** The llama-server's own pid (not the watchdog's), once known. */
    get pid(): number | null {
        return this.serverPid;
    }

    /** The watchdog's pid, which is also the process group id. */
    get groupId(): number | undefined {
        return this.child.pid;
    }

    get exit(): LlamaServerExit | null {
        return this.exitInfo;
    }

    /** The last lines the server wrote (stderr and stdout), newest last. */
    recentLog(): readonly string[] {
        return this.logTail;
    }

    /** Called once when the process ends, whether asked to or not. Returns a function that unsubscribes. */
    onExit(listener: (exit: LlamaServerExit) => void): () => void {
        if (this.exitInfo) {
            listener(this.exitInfo);
            return () => undefined;
        }
        this.exitListeners.push(listener);
        return () => {
            const at = this.exitListeners.indexOf(listener);
            if (at !== -1) this.exitListeners.splice(at, 1);
        };
    }

    /** Stops the server: closes the watchdog's pipe (SIGTERM, SIGKILL after 2 s), and kills the group if that hangs. */
    async stop(): Promise<void> {
        this.stopping = true;
        if (this.exitInfo) return;
        this.child.stdin?.destroy();
        const timer = setTimeout(() => killGroup(this.child.pid, "SIGKILL"), 5_000);
        await this.exited;
        clearTimeout(timer);
    }

    private async waitReady(): Promise<void> {
        const { signal } = this.options;
        const deadline = Date.now() + (this.options.readyTimeoutMs ?? 600_000);
        let delay = 20;
        while (true) {
            if (this.exitInfo) throw new Error(`llama-server ${this.exitInfo.reason} while loading the model`);
            if (signal?.aborted) throw signal.reason;
            if (Date.now() > deadline) throw new Error(`llama-server did not become ready within ${Math.round((this.options.readyTimeoutMs ?? 600_000) / 1000)} s`);
            try {
                const res = await loopbackRequest(this.url, "/health", { timeoutMs: 2_000 });
                await res.text();
                if (res.status === 200) return;
            } catch {
                // Not listening yet.
            }
            await Promise.race([sleep(delay), this.exited]);
            delay = Math.min(250, delay * 2);
        }
    }

    /**
     * The watchdog for a server that is alive but not answering (SIGSTOP, a deadlock, a machine
     * swapping): a dead one is seen by its exit, a hung one only by silence. One `/health` probe at
     * a time; when none has succeeded for `timeoutMs`, the whole group gets SIGKILL, and the exit
     * takes the same path as a crash (requests 503, the scheduler's backoff, a fresh child). The
     * probe is llama-server's cheapest route, answered by its HTTP threads, which a busy decode
     * leaves free (it starts `parallel + 2` or more of them, and Quandex holds at most `parallel`).
     */
    private watchHealth(timeoutMs: number): void {
        if (timeoutMs <= 0) return;
        let lastAnswer = performance.now();
        let probing = false;
        const timer = setInterval(
            () => {
                if (this.exitInfo || this.stopping) return clearInterval(timer);
                const silentMs = performance.now() - lastAnswer;
                if (silentMs > timeoutMs) {
                    clearInterval(timer);
                    this.hungForMs = silentMs;
                    this.options.logger.error(
                        { model: this.options.modelId, engine: "llama-server", pid: this.serverPid, silentMs: Math.round(silentMs) },
                        "llama-server stopped answering its health check; killing it"
                    );
                    killGroup(this.child.pid, "SIGKILL");
                    return;
                }
                if (probing) return;
                probing = true;
                loopbackRequest(this.url, "/health", { timeoutMs })
                    .then(async (res) => {
                        await res.text();
                        // 503 is "loading" (never after ready) or "no slot free" on old builds: alive either way.
                        if (res.status === 200 || res.status === 503) lastAnswer = performance.now();
                    })
                    .catch(() => undefined)
                    .finally(() => {
                        probing = false;
                    });
            },
            Math.min(2_000, Math.max(50, timeoutMs / 4))
        );
        timer.unref();
    }

    private onLogLine(line: string): void {
        if (line.trim() === "") return;
        this.logTail.push(line);
        if (this.logTail.length > 200) this.logTail.shift();
        this.options.logger.debug({ model: this.options.modelId, engine: "llama-server" }, line);
    }

    /**
     * The cause llama.cpp logged last, for exit messages: among the final lines, the first that
     * looks like an error (llama.cpp logs the cause first, then each caller's "failed to load").
     */
    private lastErrorLine(): string | null {
        const pattern = /error|failed|exception|abort|what\(\)|terminate|invalid|cannot|unable|not found|no such file|permission denied|out of memory/i;
        const line = this.logTail.slice(-30).find((l) => pattern.test(l));
        // llama.cpp prefixes lines with a timestamp and a level letter: "0.00.005.635 E ".
        return line?.replace(/^\s*[\d.]+\s+[A-Z]\s+/, "").trim() ?? null;
    }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null, stopping: boolean, lastError: string | null): LlamaServerExit {
    // The watchdog exits with 128 + n when the server died of signal n.
    let signalName: string | null = signal;
    if (!signalName && code !== null && code > 128) {
        const n = code - 128;
        signalName = Object.entries(osConstants.signals).find(([, value]) => value === n)?.[0] ?? `signal ${n}`;
    }
    let reason: string;
    if (stopping) reason = "was stopped";
    else if (signalName === "SIGKILL") reason = "was killed by SIGKILL (out of memory, or killed by another process)";
    else if (signalName) reason = `was killed by ${signalName}`;
    else reason = `exited with code ${code}`;
    if (!stopping && lastError) reason += `: ${lastError}`;
    return { code, signal: signalName, reason };
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
    if (pid === undefined) return;
    try {
        process.kill(-pid, signal);
    } catch {
        // Already gone.
    }
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
    let partial = "";
    stream.on("data", (data: Buffer) => {
        const parts = (partial + data.toString()).split("\n");
        partial = parts.pop() ?? "";
        for (const part of parts) onLine(part.replace(/\r$/, ""));
    });
    stream.on("end", () => {
        if (partial !== "") onLine(partial);
        partial = "";
    });
}

/** A port free on the loopback interface right now (the server binds it moments later). */
function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.unref();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            const port = typeof address === "object" && address ? address.port : 0;
            server.close(() => resolve(port));
        });
    });
}
