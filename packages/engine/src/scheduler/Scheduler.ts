import { statSync } from "node:fs";
import { QuandexError } from "@quandex/protocol";
import type { Engine, ModelRunner } from "../Engine.js";
import { silentLogger, type Logger } from "../Logger.js";
import type { ModelDefinition } from "../registry/ModelRegistry.js";
import { systemClock, type Clock } from "./Clock.js";
import type { Lease } from "./Lease.js";
import { ModelSlot, type Waiter } from "./ModelSlot.js";

export interface SchedulerOptions {
    /** Loads models; tests inject a fake engine to make loads slow or failing. */
    engine: Pick<Engine, "load">;
    /** Requests that may wait for a sequence, across all models, before new ones get 503. Defaults to `64`. */
    maxQueue?: number;
    /** How long a request may wait for a sequence (and for a load it started) before it gets 503. Defaults to `60_000`. */
    queueTimeoutMs?: number;
    clock?: Clock;
    logger?: Logger;
}

export interface ModelSnapshot {
    definition: ModelDefinition;
    status: ModelSlot["status"];
    error: string | null;
    runner: ModelRunner | undefined;
    active: number;
    waiting: number;
}

/**
 * Owns model lifecycle and admission. Each loaded model has `parallel` sequences; a request takes
 * one with {@link acquire} and gives it back with `lease.release()`. Requests beyond that wait in a
 * FIFO queue bounded across all models; a full queue refuses at once with 503 `server_busy`.
 *
 * Safe use: call `acquire` only for a model that {@link ensureReady} accepted, and always release the
 * lease in `finally`. A waiter whose signal fires leaves the queue and never receives a sequence.
 */
export class Scheduler {
    private readonly slots = new Map<string, ModelSlot>();
    private readonly maxQueue: number;
    private readonly queueTimeoutMs: number;
    private readonly clock: Clock;
    private readonly logger: Logger;
    private waitingTotal = 0;
    private closed = false;

    constructor(private readonly options: SchedulerOptions) {
        this.maxQueue = options.maxQueue ?? 64;
        this.queueTimeoutMs = options.queueTimeoutMs ?? 60_000;
        this.clock = options.clock ?? systemClock;
        this.logger = options.logger ?? silentLogger;
    }

    snapshot(definition: ModelDefinition): ModelSnapshot {
        const slot = this.slot(definition);
        return { definition: slot.definition, status: slot.status, error: slot.error, runner: slot.runner, active: slot.active, waiting: slot.waiting.length };
    }

    get queueDepth(): number {
        return this.waitingTotal;
    }

    get activeSequences(): number {
        let total = 0;
        for (const slot of this.slots.values()) total += slot.active;
        return total;
    }

    /** Starts loading unless the model is ready or already loading. Returns immediately. */
    load(definition: ModelDefinition): ModelSnapshot {
        const slot = this.slot(definition);
        if (slot.status === "unloaded" || slot.status === "error") void this.startLoad(slot).catch(() => undefined);
        return this.snapshot(definition);
    }

    /** Waits for a load this caller may start; used for preloading. Never throws: failures become `error` state. */
    async loadAndWait(definition: ModelDefinition): Promise<ModelSnapshot> {
        const slot = this.slot(definition);
        if (slot.status === "ready") return this.snapshot(definition);
        await (slot.loading ?? this.startLoad(slot)).catch(() => undefined);
        return this.snapshot(definition);
    }

    /**
     * Makes sure a request can run on this model. A model that is loading answers 503
     * `model_loading`; an unloaded one starts loading and this request waits for it (the "load on
     * first request" path), bounded by the queue timeout.
     */
    async ensureReady(definition: ModelDefinition): Promise<void> {
        if (this.closed) throw new QuandexError("server_shutdown");
        const slot = this.slot(definition);
        if (slot.status === "ready") {
            if (slot.draining) throw new QuandexError("model_unavailable", { model: definition.id, detail: "it is being unloaded." }, { retryAfter: 1 });
            return;
        }
        if (slot.status === "loading") throw new QuandexError("model_loading", { model: definition.id, retry_after: 2 }, { retryAfter: 2 });
        this.refuseDuringCrashBackoff(slot);
        if (slot.status === "error" && slot.errorFileStamp === fileStamp(definition.path)) {
            throw new QuandexError("model_unavailable", { model: definition.id, detail: slot.error ?? "it failed to load." });
        }
        try {
            await this.withTimeout(this.startLoad(slot), () => new QuandexError("model_loading", { model: definition.id, retry_after: 2 }, { retryAfter: 2 }));
        } catch (error) {
            if (error instanceof QuandexError) throw error;
            throw new QuandexError("model_unavailable", { model: definition.id, detail: error instanceof Error ? error.message : String(error) });
        }
    }

    /** Takes a sequence, waiting in the FIFO queue when all are busy. */
    acquire(definition: ModelDefinition, signal: AbortSignal): Promise<Lease> {
        const slot = this.slot(definition);
        const started = this.clock.now();
        const lease = (runner: ModelRunner): Lease => this.lease(slot, runner, this.clock.now() - started);
        if (this.closed) return Promise.reject(new QuandexError("server_shutdown"));
        if (signal.aborted) return Promise.reject(signal.reason);
        if (slot.status !== "ready" || !slot.runner) {
            return Promise.reject(new QuandexError("model_unavailable", { model: definition.id, detail: `it is ${slot.status}.` }, { retryAfter: 1 }));
        }
        if (slot.active < slot.runner.parallel && slot.waiting.length === 0) {
            slot.active++;
            return Promise.resolve(lease(slot.runner));
        }
        if (this.waitingTotal >= this.maxQueue) {
            return Promise.reject(
                new QuandexError(
                    "server_busy",
                    { detail: `all ${slot.runner.parallel} sequences of '${definition.id}' are busy and the queue holds its maximum of ${this.maxQueue} requests.`, retry_after: 1 },
                    { retryAfter: 1 }
                )
            );
        }
        return new Promise<Lease>((resolve, reject) => {
            const waiter: Waiter = {
                resolve: (runner) => resolve(lease(runner)),
                reject,
                signal,
                timer: undefined,
                onAbort: () => {
                    this.removeWaiter(slot, waiter);
                    reject(signal.reason);
                }
            };
            waiter.timer = this.clock.setTimeout(() => {
                this.removeWaiter(slot, waiter);
                reject(
                    new QuandexError(
                        "server_busy",
                        { detail: `the request waited ${Math.round(this.queueTimeoutMs / 1000)} s for a free sequence of '${definition.id}'.`, retry_after: 1 },
                        { retryAfter: 1 }
                    )
                );
            }, this.queueTimeoutMs);
            signal.addEventListener("abort", waiter.onAbort, { once: true });
            slot.waiting.push(waiter);
            this.waitingTotal++;
        });
    }

    /** Unloads once in-flight and queued requests finish; new requests get 503 meanwhile. */
    async unload(definition: ModelDefinition): Promise<ModelSnapshot> {
        const slot = this.slot(definition);
        if (slot.status === "loading") {
            slot.loadAbort?.abort(new QuandexError("model_unavailable", { model: definition.id, detail: "its load was cancelled by an unload." }));
            await slot.loading?.catch(() => undefined);
        }
        if (slot.status === "error") {
            slot.status = "unloaded";
            slot.error = null;
        }
        if (slot.status === "ready") {
            slot.draining = true;
            this.disposeIfDrained(slot);
        }
        return this.snapshot(definition);
    }

    /** Stops admitting: queued requests get 503 `server_shutdown`. In-flight leases keep running. */
    close(): void {
        this.closed = true;
        for (const slot of this.slots.values()) {
            this.clock.clearTimeout(slot.crash.timer);
            for (const waiter of slot.waiting.splice(0)) {
                this.waitingTotal--;
                this.clock.clearTimeout(waiter.timer);
                waiter.signal.removeEventListener("abort", waiter.onAbort);
                waiter.reject(new QuandexError("server_shutdown"));
            }
        }
    }

    /** Unloads every model now. Call after in-flight requests were drained or aborted. */
    async dispose(): Promise<void> {
        this.close();
        const runners: ModelRunner[] = [];
        for (const slot of this.slots.values()) {
            slot.loadAbort?.abort(new QuandexError("server_shutdown"));
            if (slot.runner) runners.push(slot.runner);
            slot.runner = undefined;
            slot.status = "unloaded";
        }
        await Promise.allSettled(runners.map((runner) => runner.dispose()));
    }

    private slot(definition: ModelDefinition): ModelSlot {
        let slot = this.slots.get(definition.id);
        if (!slot) {
            slot = new ModelSlot(definition);
            this.slots.set(definition.id, slot);
        } else if (slot.definition !== definition && slot.status !== "ready" && slot.status !== "loading") {
            // A config or file change takes effect at the next load, never mid-life.
            slot.definition = definition;
        }
        return slot;
    }

    private startLoad(slot: ModelSlot): Promise<ModelRunner> {
        if (slot.loading) return slot.loading;
        const definition = slot.definition;
        const abort = new AbortController();
        slot.status = "loading";
        slot.error = null;
        slot.loadAbort = abort;
        this.logger.info({ model: definition.id, path: definition.path }, "loading model");
        const loading = this.options.engine
            .load({ id: definition.id, path: definition.path, options: definition.options, signal: abort.signal })
            .then(
                async (runner) => {
                    if (abort.signal.aborted) {
                        await runner.dispose();
                        throw abort.signal.reason;
                    }
                    slot.runner = runner;
                    slot.status = "ready";
                    slot.draining = false;
                    slot.crash.loadedAt = this.clock.now();
                    runner.onExit?.((reason) => this.onRunnerExit(slot, runner, reason));
                    return runner;
                },
                (error: unknown) => {
                    const message = error instanceof Error ? error.message : String(error);
                    if (abort.signal.aborted) {
                        slot.status = "unloaded";
                    } else {
                        slot.status = "error";
                        slot.error = message;
                        slot.errorFileStamp = fileStamp(definition.path);
                        this.logger.error({ model: definition.id, err: message }, "model failed to load");
                    }
                    throw error;
                }
            )
            .finally(() => {
                slot.loading = undefined;
                slot.loadAbort = undefined;
            });
        slot.loading = loading;
        return loading;
    }

    private lease(slot: ModelSlot, runner: ModelRunner, queuedMs: number): Lease {
        let released = false;
        return {
            runner,
            queuedMs,
            release: () => {
                if (released) return;
                released = true;
                this.handOver(slot, runner);
            }
        };
    }

    /** A freed sequence goes straight to the oldest live waiter, so FIFO order holds. */
    private handOver(slot: ModelSlot, runner: ModelRunner): void {
        while (slot.waiting.length > 0 && slot.runner === runner) {
            const next = slot.waiting.shift()!;
            this.waitingTotal--;
            this.clock.clearTimeout(next.timer);
            next.signal.removeEventListener("abort", next.onAbort);
            if (next.signal.aborted) continue;
            next.resolve(runner);
            return;
        }
        slot.active--;
        this.disposeIfDrained(slot);
    }

    private disposeIfDrained(slot: ModelSlot): void {
        if (!slot.draining || slot.active > 0 || slot.waiting.length > 0 || !slot.runner) return;
        const runner = slot.runner;
        slot.runner = undefined;
        slot.status = "unloaded";
        slot.draining = false;
        void runner.dispose().catch((error: unknown) => this.logger.error({ model: slot.definition.id, err: String(error) }, "unload failed"));
    }

    private removeWaiter(slot: ModelSlot, waiter: Waiter): void {
        const index = slot.waiting.indexOf(waiter);
        if (index === -1) return;
        slot.waiting.splice(index, 1);
        this.waitingTotal--;
        this.clock.clearTimeout(waiter.timer);
        waiter.signal.removeEventListener("abort", waiter.onAbort);
        this.disposeIfDrained(slot);
    }

    // --- Runners that die alone (engines with a child process per model) -----------------------

    /**
     * A loaded model's runner died (crash, OOM kill). Its in-flight requests end by themselves (the
     * runner fails them with 503 `model_unavailable`); queued ones get that now. The model goes to
     * `error` with the reason, and loads again once a backoff has passed (1 s, doubling per crash
     * up to 60 s; a runner that lived 5 minutes resets it): on the next request, or by itself when
     * it is preloaded.
     */
    private onRunnerExit(slot: ModelSlot, runner: ModelRunner, reason: string): void {
        if (slot.runner !== runner) return;
        const now = this.clock.now();
        const id = slot.definition.id;
        if (now - slot.crash.loadedAt > 300_000) slot.crash.count = 0;
        slot.crash.count++;
        const backoffMs = Math.min(60_000, 1000 * 2 ** (slot.crash.count - 1));
        slot.crash.retryAt = now + backoffMs;
        slot.runner = undefined;
        slot.draining = false;
        slot.status = "error";
        slot.error = `its engine process ${reason}`;
        // Not the file's fault: unlike a failed load, the next request after the backoff loads it again.
        slot.errorFileStamp = crashedStamp;
        this.logger.error({ model: id, reason, crashes: slot.crash.count, retryInMs: backoffMs }, "model crashed");
        for (const waiter of slot.waiting.splice(0)) {
            this.waitingTotal--;
            this.clock.clearTimeout(waiter.timer);
            waiter.signal.removeEventListener("abort", waiter.onAbort);
            waiter.reject(new QuandexError("model_unavailable", { model: id, detail: slot.error }, { retryAfter: Math.ceil(backoffMs / 1000) }));
        }
        void runner.dispose().catch(() => undefined);
        if (slot.definition.preload && !this.closed) {
            this.clock.clearTimeout(slot.crash.timer);
            slot.crash.timer = this.clock.setTimeout(() => {
                if (!this.closed && slot.status === "error" && slot.errorFileStamp === crashedStamp) void this.startLoad(slot).catch(() => undefined);
            }, backoffMs);
        }
    }

    /** During a crash backoff, requests get 503 with the time left instead of a restart. */
    private refuseDuringCrashBackoff(slot: ModelSlot): void {
        if (slot.status !== "error" || slot.errorFileStamp !== crashedStamp) return;
        const left = slot.crash.retryAt - this.clock.now();
        if (left > 0) {
            throw new QuandexError("model_unavailable", { model: slot.definition.id, detail: `${slot.error ?? "it crashed"}; it restarts in ${Math.ceil(left / 1000)} s.` }, { retryAfter: Math.ceil(left / 1000) });
        }
    }

    private withTimeout<T>(promise: Promise<T>, onTimeout: () => Error): Promise<T> {
        return new Promise<T>((resolve, reject) => {
            const timer = this.clock.setTimeout(() => reject(onTimeout()), this.queueTimeoutMs);
            promise.then(
                (value) => {
                    this.clock.clearTimeout(timer);
                    resolve(value);
                },
                (error: unknown) => {
                    this.clock.clearTimeout(timer);
                    reject(error);
                }
            );
        });
    }
}

/** `errorFileStamp` of a model whose runner crashed; never equal to a real file's stamp. */
const crashedStamp = "crashed";

function fileStamp(filePath: string): string | null {
    try {
        const stat = statSync(filePath);
        return `${stat.size}:${stat.mtimeMs}`;
    } catch {
        return null;
    }
}
