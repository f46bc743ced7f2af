import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { BaselineOptions, BaselineSettings, BaselineWorkerReply, BaselineWorkerRequest } from "../baseline.js";
import type { LevelMetrics } from "../metrics.js";
import { benchDir, repoRoot } from "../paths.js";

/**
 * The baseline in its own process (a clean heap and thread pool, like the server's), driven one level
 * at a time over IPC so the orchestrator can interleave its levels with the server's. One request at a
 * time: call `runLevel` again only after the previous call settled.
 */
export class BaselineWorker {
    private pending: { resolve: (reply: BaselineWorkerReply) => void; reject: (error: Error) => void } | null = null;
    private exitReason: string | null = null;

    private constructor(
        private readonly child: ChildProcess,
        readonly settings: BaselineSettings
    ) {}

    static async start({ modelPath, threads, contextSize, sequences, plan }: BaselineOptions): Promise<BaselineWorker> {
        const args = [
            "--ipc",
            "--model", modelPath,
            "--threads", String(threads),
            "--context-size", String(contextSize),
            "--sequences", String(sequences),
            "--concurrency", plan.concurrencyLevels.join(","),
            "--max-tokens", String(plan.maxTokens),
            "--requests-per-slot", String(plan.requestsPerSlot),
            "--min-requests", String(plan.minRequests),
            ...(plan.warmupRequests == null ? [] : ["--warmup-requests", String(plan.warmupRequests)]),
            ...(plan.requestRate == null ? [] : ["--request-rate", String(plan.requestRate)])
        ]; // prettier-ignore
        const child = fork(join(benchDir, "src/baseline.ts"), args, {
            cwd: repoRoot,
            execArgv: ["--import", "tsx"],
            stdio: ["ignore", "inherit", "inherit", "ipc"],
            serialization: "advanced" // keeps the NaN of empty distributions, which JSON would turn into null
        });
        const ready = await new Promise<BaselineWorkerReply>((resolve, reject) => {
            child.once("message", (reply: BaselineWorkerReply) => resolve(reply));
            child.once("exit", (code, signal) => reject(new Error(`baseline process exited (${signal ?? `code ${code}`}) before it was ready`)));
            child.once("error", reject);
        });
        if (ready.type !== "ready") {
            child.kill();
            throw new Error(`baseline process failed to start: ${ready.type === "error" ? ready.message : ready.type}`);
        }
        const worker = new BaselineWorker(child, ready.settings);
        child.on("message", (reply: BaselineWorkerReply) => worker.pending?.resolve(reply));
        child.on("exit", (code, signal) => {
            worker.exitReason = signal ?? `code ${code}`;
            worker.pending?.reject(new Error(`baseline process exited (${worker.exitReason})`));
        });
        return worker;
    }

    async runLevel(concurrency: number): Promise<LevelMetrics> {
        const reply = await this.request({ type: "level", concurrency });
        if (reply.type !== "level") throw new Error(`baseline level ${concurrency} failed: ${reply.type === "error" ? reply.message : reply.type}`);
        return reply.level;
    }

    /** Asks the worker to dispose its model and exit; kills it if it has not after `graceMs`. */
    async close(graceMs = 10_000): Promise<void> {
        if (this.exitReason != null) return;
        const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
        this.child.send({ type: "close" } satisfies BaselineWorkerRequest);
        const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
    }

    private request(message: BaselineWorkerRequest): Promise<BaselineWorkerReply> {
        if (this.exitReason != null) return Promise.reject(new Error(`baseline process exited (${this.exitReason})`));
        if (this.pending != null) return Promise.reject(new Error("a baseline request is already running"));
        return new Promise<BaselineWorkerReply>((resolve, reject) => {
            this.pending = {
                resolve: (reply) => {
                    this.pending = null;
                    resolve(reply);
                },
                reject: (error) => {
                    this.pending = null;
                    reject(error);
                }
            };
            this.child.send(message);
        });
    }
}
