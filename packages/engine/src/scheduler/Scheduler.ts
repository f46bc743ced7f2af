import { statSync } from "node:fs";
import { formatBytes, QuandexError } from "@quandex/protocol";
import type { Engine, LoadRequest, ModelRunner, RunnerResources } from "../Engine.js";
import { silentLogger, type Logger } from "../Logger.js";
import type { ModelDefinition } from "../registry/ModelRegistry.js";
import { systemClock, type Clock } from "./Clock.js";
import type { Lease } from "./Lease.js";
import { ModelSlot, type Waiter } from "./ModelSlot.js";

export interface SchedulerOptions {
    /** Loads models, and estimates what a load will take; tests inject a fake engine. */
    engine: Pick<Engine, "load"> & Partial<Pick<Engine, "estimate">>;
    /** Requests that may wait for a sequence, across all models, before new ones get 503. Defaults to `64`. */
    maxQueue?: number;
    /** How long a request may wait for a sequence (and for a load it started) before it gets 503. Defaults to `60_000`. */
    queueTimeoutMs?: number;
    /**
     * Bytes every loaded model (weights and contexts, RAM and accelerator) may hold together. A load
     * that would pass it first unloads the least recently used idle models. Defaults to no budget.
     */
    memoryBudgetBytes?: number;
    /** How long an idle model stays loaded, in ms; `null` forever. Models' own `keepAliveMs` win. Defaults to `300_000`. */
    defaultKeepAliveMs?: number | null;
    clock?: Clock;
    /** Wall-clock time, for the times the API shows. Defaults to `Date.now`. */
    wallClock?: () => number;
    logger?: Logger;
}

/**
 * A model's state as plain data: what the HTTP layer may see. No runner object (nor anything of
 * node-llama-cpp or a child process) leaves the engine through it.
 */
export interface ModelSnapshot {
    definition: ModelDefinition;
    status: ModelSlot["status"];
    error: string | null;
    /** What the loaded model holds; `null` unless it is `ready`. */
    resources: RunnerResources | null;
    /** Of the loaded runner, else what the next load will use. */
    contextSize: number;
    parallel: number;
    /** Sequences generating now (the API's `busy_sequences`). */
    active: number;
    waiting: number;
    /** What the engine estimated a load takes, once asked; `null` before. */
    estimatedBytes: number | null;
    /** Wall-clock ms of the last request's end; `null` before any. */
    lastUsedAt: number | null;
    /** Wall-clock ms at which the idle model unloads; `null` while busy, not loaded, or kept forever. */
    expiresAt: number | null;
}

/** The memory budget's figures, for `/v1/stats`. */
/** How a load ended: loaded, failed (the file or the engine), or refused for want of memory. */
export type LoadOutcome = "success" | "error" | "refused";

export interface MemoryStatus {
    /** `null` without a budget. */
    budgetBytes: number | null;
    /** What loaded and loading models hold (or, while loading, are estimated to need). */
    committedBytes: number;
    /** Models unloaded to make room for another. */
    evictionsTotal: number;
}

export interface AcquireOptions {
    /** This request's keep-alive (Ollama's `keep_alive`): how long the model stays loaded after it. */
    keepAliveMs?: number | null;
}

/**
 * Owns model lifecycle and admission. Each loaded model has `parallel` sequences; a request takes
 * one with {@link acquire} and gives it back with `lease.release()`. Requests beyond that wait in a
 * FIFO queue bounded across all models; a full queue refuses at once with 503 `server_busy`.
 *
 * Memory: with a budget, a load first unloads the least recently used idle models until the
 * estimate fits; a busy model (a running or queued request) is never touched. When nothing can be
 * unloaded the load waits for a model to become idle, up to the queue timeout. Idle models unload
 * by themselves when their keep-alive runs out.
 *
 * Safe use: always release a lease in `finally`. A waiter whose signal fires leaves the queue and
 * never receives a sequence.
 */
export class Scheduler {
    private readonly slots = new Map<string, ModelSlot>();
    private readonly maxQueue: number;
    private readonly queueTimeoutMs: number;
    private readonly budget: number;
    private readonly defaultKeepAliveMs: number | null;
    private readonly clock: Clock;
    private readonly wallClock: () => number;
    private readonly logger: Logger;
    /** Loads waiting for memory: woken whenever a model becomes idle or frees its memory. */
    private memoryWaiters: Array<() => void> = [];
    /**
     * Under a budget, loads take turns: each one's room is decided once the one before it has
     * loaded and its real size is known, so estimates that fall short cannot add up.
     */
    private loadTurn: Promise<void> = Promise.resolve();
    private waitingTotal = 0;
    private evictions = 0;
    /** Loads that ended, per model and outcome, for `/metrics` (`quandex_model_loads_total`). */
    private readonly loads = new Map<string, Record<LoadOutcome, number>>();
    private closed = false;

    constructor(private readonly options: SchedulerOptions) {
        this.maxQueue = options.maxQueue ?? 64;
        this.queueTimeoutMs = options.queueTimeoutMs ?? 60_000;
        this.budget = options.memoryBudgetBytes ?? Number.POSITIVE_INFINITY;
        this.defaultKeepAliveMs = options.defaultKeepAliveMs === undefined ? 300_000 : options.defaultKeepAliveMs;
        this.clock = options.clock ?? systemClock;
        this.wallClock = options.wallClock ?? Date.now;
        this.logger = options.logger ?? silentLogger;
    }

    snapshot(definition: ModelDefinition): ModelSnapshot {
        const slot = this.slot(definition);
        const runner = slot.runner;
        const idle = slot.status === "ready" && slot.active === 0 && slot.waiting.length === 0;
        const keepAlive = slot.keepAliveMs;
        // A file the registry found broken is `error` from the start, with the reason, not `unloaded`.
        const fileProblem = slot.status === "unloaded" ? slot.definition.fileProblem : null;
        return {
            definition: slot.definition,
            status: fileProblem ? "error" : slot.status,
            error: fileProblem ? fileProblem : slot.error,
            resources: slot.status === "ready" && runner ? runner.resources() : null,
            contextSize: runner?.contextSize ?? slot.definition.options.contextSize,
            parallel: runner?.parallel ?? slot.definition.options.parallel,
            active: slot.active,
            waiting: slot.waiting.length,
            estimatedBytes: slot.estimate?.bytes ?? null,
            lastUsedAt: slot.lastUsedWall,
            expiresAt: idle && keepAlive !== null && slot.lastUsedWall !== null ? slot.lastUsedWall + keepAlive : null
        };
    }

    /** The loaded runner, for the engine's own service; `undefined` unless the model is ready. */
    runnerOf(definition: ModelDefinition): ModelRunner | undefined {
        const slot = this.slot(definition);
        return slot.status === "ready" ? slot.runner : undefined;
    }

    get queueDepth(): number {
        return this.waitingTotal;
    }

    get activeSequences(): number {
        let total = 0;
        for (const slot of this.slots.values()) total += slot.active;
        return total;
    }

    /** How many loads of each model ended in each outcome since start. */
    loadCounts(): ReadonlyMap<string, Readonly<Record<LoadOutcome, number>>> {
        return this.loads;
    }

    private countLoad(model: string, outcome: LoadOutcome): void {
        let counts = this.loads.get(model);
        if (!counts) {
            counts = { success: 0, error: 0, refused: 0 };
            this.loads.set(model, counts);
        }
        counts[outcome]++;
    }

    memory(): MemoryStatus {
        return { budgetBytes: Number.isFinite(this.budget) ? this.budget : null, committedBytes: this.committed(), evictionsTotal: this.evictions };
    }

    /**
     * Starts loading unless the model is ready or already loading, and answers once the load has
     * begun. @throws QuandexError `model_unavailable` at once for a model larger than the whole budget.
     */
    async load(definition: ModelDefinition): Promise<ModelSnapshot> {
        const slot = this.slot(definition);
        if (slot.status === "unloaded" || slot.status === "error") {
            await this.refuseTooLarge(slot);
            void this.startLoad(slot).catch(() => undefined);
        }
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
     * Makes sure a request can run on this model: an unloaded one starts loading, and the request
     * waits for the load (its own or one already under way) up to the queue timeout, after which it
     * gets 503 `model_loading`. A model that failed to load answers 503 until its file changes.
     */
    async ensureReady(definition: ModelDefinition): Promise<void> {
        if (this.closed) throw new QuandexError("server_shutdown");
        const slot = this.slot(definition);
        const pending = this.clock.now() + this.queueTimeoutMs + pendingGraceMs;
        slot.pending.push(pending);
        try {
            await this.waitUntilReady(slot);
        } catch (error) {
            const index = slot.pending.indexOf(pending);
            if (index !== -1) slot.pending.splice(index, 1);
            throw error;
        }
    }

    private async waitUntilReady(slot: ModelSlot): Promise<void> {
        const definition = slot.definition;
        if (slot.status === "ready") {
            if (slot.draining) throw new QuandexError("model_unavailable", { model: definition.id, detail: "it is being unloaded." }, { retryAfter: 1 });
            this.touch(slot);
            return;
        }
        if (slot.status !== "loading") {
            // Known broken without loading it: no load (and no native parser) for a file that cannot work.
            if (definition.fileProblem) throw new QuandexError("model_unavailable", { model: definition.id, detail: definition.fileProblem });
            this.refuseDuringCrashBackoff(slot);
            if (slot.status === "error" && slot.errorFileStamp === fileStamp(definition.path)) {
                throw new QuandexError("model_unavailable", { model: definition.id, detail: slot.error ?? "it failed to load." });
            }
        }
        try {
            await this.withTimeout(slot.loading ?? this.startLoad(slot), () =>
                slot.memoryWait !== null
                    ? new QuandexError("model_unavailable", { model: definition.id, detail: slot.memoryWait }, { retryAfter: 5 })
                    : new QuandexError("model_loading", { model: definition.id, retry_after: 2 }, { retryAfter: 2 })
            );
        } catch (error) {
            if (error instanceof QuandexError) throw error;
            throw new QuandexError("model_unavailable", { model: definition.id, detail: error instanceof Error ? error.message : String(error) });
        }
        this.touch(slot);
    }

    /**
     * Takes a sequence, waiting in the FIFO queue when all are busy. A model unloaded since the
     * request's checks (evicted for another, or its keep-alive ran out) is loaded again first, so a
     * request admitted for a model never fails because memory was reclaimed in between.
     */
    async acquire(definition: ModelDefinition, signal: AbortSignal, options: AcquireOptions = {}): Promise<Lease> {
        const slot = this.slot(definition);
        if (!this.closed && !signal.aborted && (slot.status === "unloaded" || slot.status === "loading")) await this.ensureReady(definition);
        // This request's admission (if it had one) becomes a sequence or a place in the queue now.
        slot.pending.shift();
        return this.take(slot, signal, options);
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

    /** Waits until a model's runner (unloaded, evicted, or crashed) has freed its memory. */
    async settled(definition: ModelDefinition): Promise<void> {
        await this.slot(definition).disposing;
    }

    /** Stops admitting: queued requests get 503 `server_shutdown`. In-flight leases keep running. */
    close(): void {
        this.closed = true;
        for (const slot of this.slots.values()) {
            this.clock.clearTimeout(slot.crash.timer);
            this.clock.clearTimeout(slot.idleTimer);
            for (const waiter of [...slot.waiting]) this.dropWaiter(slot, waiter, new QuandexError("server_shutdown"));
        }
        this.wakeMemoryWaiters();
    }

    /** Unloads every model now. Call after in-flight requests were drained or aborted. */
    async dispose(): Promise<void> {
        this.close();
        const runners: ModelRunner[] = [];
        const disposing: Array<Promise<void>> = [];
        for (const slot of this.slots.values()) {
            slot.loadAbort?.abort(new QuandexError("server_shutdown"));
            if (slot.runner) runners.push(slot.runner);
            if (slot.disposing) disposing.push(slot.disposing);
            slot.runner = undefined;
            slot.status = "unloaded";
        }
        await Promise.allSettled([...runners.map((runner) => runner.dispose()), ...disposing]);
    }

    private slot(definition: ModelDefinition): ModelSlot {
        let slot = this.slots.get(definition.id);
        if (!slot) {
            slot = new ModelSlot(definition);
            slot.keepAliveMs = this.keepAliveOf(definition);
            this.slots.set(definition.id, slot);
        } else if (slot.definition !== definition && slot.status !== "ready" && slot.status !== "loading") {
            // A config or file change takes effect at the next load, never mid-life.
            slot.definition = definition;
            slot.keepAliveMs = this.keepAliveOf(definition);
        }
        return slot;
    }

    private keepAliveOf(definition: ModelDefinition): number | null {
        if (definition.keepAliveMs !== undefined) return definition.keepAliveMs;
        return definition.preload ? null : this.defaultKeepAliveMs;
    }

    private take(slot: ModelSlot, signal: AbortSignal, options: AcquireOptions): Promise<Lease> {
        const definition = slot.definition;
        const started = this.clock.now();
        const lease = (runner: ModelRunner): Lease => this.lease(slot, runner, this.clock.now() - started, options);
        if (this.closed) return Promise.reject(new QuandexError("server_shutdown"));
        if (signal.aborted) return Promise.reject(signal.reason);
        if (slot.status !== "ready" || !slot.runner) {
            return Promise.reject(new QuandexError("model_unavailable", { model: definition.id, detail: `it is ${slot.status}.` }, { retryAfter: 1 }));
        }
        this.clock.clearTimeout(slot.idleTimer);
        if (slot.active < slot.runner.parallel && slot.waiting.length === 0) {
            slot.active++;
            return Promise.resolve(lease(slot.runner));
        }
        if (this.waitingTotal >= this.maxQueue) {
            return Promise.reject(
                new QuandexError(
                    "server_busy",
                    {
                        detail: `all ${slot.runner.parallel} sequences of '${definition.id}' are busy and the queue holds its maximum of ${this.maxQueue} requests.`,
                        retry_after: 1
                    },
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
                onAbort: () => this.dropWaiter(slot, waiter, signal.reason)
            };
            waiter.timer = this.clock.setTimeout(
                () =>
                    this.dropWaiter(
                        slot,
                        waiter,
                        new QuandexError(
                            "server_busy",
                            { detail: `the request waited ${Math.round(this.queueTimeoutMs / 1000)} s for a free sequence of '${definition.id}'.`, retry_after: 1 },
                            { retryAfter: 1 }
                        )
                    ),
                this.queueTimeoutMs
            );
            signal.addEventListener("abort", waiter.onAbort, { once: true });
            slot.waiting.push(waiter);
            this.waitingTotal++;
        });
    }

    private startLoad(slot: ModelSlot): Promise<ModelRunner> {
        if (slot.loading) return slot.loading;
        const definition = slot.definition;
        const abort = new AbortController();
        slot.status = "loading";
        slot.error = null;
        slot.loadAbort = abort;
        const request: LoadRequest = { id: definition.id, path: definition.path, options: definition.options, signal: abort.signal };
        const load = (): Promise<ModelRunner> => {
            this.logger.info({ model: definition.id, path: definition.path, ...(slot.estimate?.bytes && { estimatedBytes: slot.estimate.bytes }) }, "loading model");
            return this.options.engine.load(request);
        };
        // Set when this load holds the budget's turn; released once its outcome is recorded below.
        let endTurn: (() => void) | undefined;
        // With no budget and no runner of this model still freeing memory, the load starts at once.
        const needsRoom = Number.isFinite(this.budget) || slot.disposing !== undefined;
        const loading = (
            needsRoom
                ? (async () => {
                      // The previous runner of this model (unloaded, evicted, crashed) frees its memory first.
                      await slot.disposing;
                      if (!Number.isFinite(this.budget)) return load();
                      const previous = this.loadTurn;
                      this.loadTurn = new Promise<void>((resolve) => (endTurn = resolve));
                      await previous;
                      await this.makeRoom(slot, await this.estimateOf(slot), abort.signal);
                      return load();
                  })()
                : load()
        )
            .then(
                async (runner) => {
                    if (abort.signal.aborted) {
                        await runner.dispose();
                        throw abort.signal.reason;
                    }
                    slot.runner = runner;
                    slot.status = "ready";
                    this.countLoad(definition.id, "success");
                    slot.draining = false;
                    slot.loadedBytes = runner.resources().totalBytes;
                    // The next load of this definition is estimated at no less than what this one took.
                    if (slot.estimate && slot.loadedBytes > slot.estimate.bytes) slot.estimate = { definition: slot.definition, bytes: slot.loadedBytes };
                    slot.crash.loadedAt = this.clock.now();
                    // Loaded for a request that is about to use it: the newest, not the first to evict.
                    this.touch(slot);
                    runner.onExit?.((reason) => this.onRunnerExit(slot, runner, reason));
                    this.trimToBudget(slot);
                    // Loaded for a request that is about to take a sequence; a timed keep-alive still
                    // covers the case where none comes (its checks failed), "after each request" waits for one.
                    if ((slot.keepAliveMs ?? 0) > 0) this.scheduleIdleUnload(slot);
                    return runner;
                },
                (error: unknown) => {
                    const message = error instanceof Error ? error.message : String(error);
                    if (abort.signal.aborted || isMemoryRefusal(error)) {
                        // Not the file's fault: the model stays `unloaded`, and loads when memory allows.
                        slot.status = "unloaded";
                        if (!abort.signal.aborted) this.countLoad(definition.id, "refused");
                    } else {
                        this.countLoad(definition.id, "error");
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
                slot.reserved = false;
                slot.memoryWait = null;
                endTurn?.();
                this.wakeMemoryWaiters();
            });
        slot.loading = loading;
        return loading;
    }

    /** The engine's estimate of a load, asked once per definition (0 when the engine cannot estimate). */
    private async estimateOf(slot: ModelSlot): Promise<number> {
        const definition = slot.definition;
        if (slot.estimate?.definition === definition) return slot.estimate.bytes;
        let bytes = 0;
        if (this.options.engine.estimate) {
            try {
                bytes = await this.options.engine.estimate({ id: definition.id, path: definition.path, options: definition.options });
            } catch (error) {
                // An unreadable file fails in the load itself, with the engine's reason.
                this.logger.debug({ model: definition.id, err: String(error) }, "no memory estimate");
            }
        }
        slot.estimate = { definition, bytes };
        return bytes;
    }

    private async refuseTooLarge(slot: ModelSlot): Promise<void> {
        const bytes = await this.estimateOf(slot);
        if (bytes > this.budget) throw this.tooLarge(slot, bytes);
    }

    /**
     * Frees memory for a load of `bytes`: unloads idle models, least recently used first, until the
     * load fits the budget; when every other model is busy, waits for one to become idle (up to the
     * queue timeout).
     * @throws QuandexError `model_unavailable` saying memory is the reason: at once for a model
     *   larger than the whole budget, after the timeout when nothing became idle.
     */
    private async makeRoom(slot: ModelSlot, bytes: number, signal: AbortSignal): Promise<void> {
        if (!Number.isFinite(this.budget)) return;
        if (bytes > this.budget) throw this.tooLarge(slot, bytes);
        const deadline = this.clock.now() + this.queueTimeoutMs;
        const waitingDetail = (): string =>
            `not enough memory: it needs about ${formatBytes(bytes)}, the budget is ${formatBytes(this.budget)} and ${formatBytes(this.committed(slot))} is held by models that stayed busy.`;
        try {
            await this.waitForRoom(slot, bytes, signal, deadline, waitingDetail);
        } finally {
            slot.memoryWait = null;
        }
        slot.reserved = true;
    }

    private async waitForRoom(slot: ModelSlot, bytes: number, signal: AbortSignal, deadline: number, waitingDetail: () => string): Promise<void> {
        while (this.committed(slot) + bytes > this.budget) {
            if (signal.aborted) throw signal.reason;
            if (this.closed) throw new QuandexError("server_shutdown");
            const victim = this.leastRecentlyUsedIdle(slot);
            if (victim) {
                this.evictions++;
                this.logger.info(
                    { model: victim.definition.id, for: slot.definition.id, budget: this.budget, committed: this.committed(slot), needed: bytes },
                    "unloading an idle model to make room"
                );
                this.unloadIdle(victim);
                await victim.disposing;
                continue;
            }
            const left = deadline - this.clock.now();
            slot.memoryWait = waitingDetail();
            // Woken by any model going idle or freeing memory; at least once a second, as admissions that were never used expire.
            if (left <= 0 || (!(await this.memoryFreed(Math.min(left, 1000))) && this.clock.now() >= deadline)) {
                throw new QuandexError("model_unavailable", { model: slot.definition.id, detail: waitingDetail() }, { retryAfter: 5, cause: memoryRefusal });
            }
        }
    }

    /**
     * A load may take more than its estimate said. Once it is in, idle models (least recently used
     * first, never `keep`) are unloaded until what is committed fits the budget again; busy ones
     * stay, and the next load waits for them instead.
     */
    private trimToBudget(keep: ModelSlot): void {
        if (!Number.isFinite(this.budget)) return;
        while (this.committed() > this.budget) {
            const victim = this.leastRecentlyUsedIdle(keep);
            if (!victim) return;
            this.evictions++;
            this.logger.info(
                { model: victim.definition.id, after: keep.definition.id, budget: this.budget, committed: this.committed() },
                "unloading an idle model: a load took more than its estimate"
            );
            this.unloadIdle(victim);
        }
    }

    private tooLarge(slot: ModelSlot, bytes: number): QuandexError {
        return new QuandexError(
            "model_unavailable",
            { model: slot.definition.id, detail: `not enough memory: it needs about ${formatBytes(bytes)}, more than the whole memory budget of ${formatBytes(this.budget)}.` },
            { retryAfter: 60, cause: memoryRefusal }
        );
    }

    /** Resolves true when some model became idle or freed memory, false after `ms`. */
    private memoryFreed(ms: number): Promise<boolean> {
        return new Promise((resolve) => {
            const wake = (): void => {
                this.clock.clearTimeout(timer);
                resolve(true);
            };
            const timer = this.clock.setTimeout(() => {
                this.memoryWaiters = this.memoryWaiters.filter((w) => w !== wake);
                resolve(false);
            }, ms);
            this.memoryWaiters.push(wake);
        });
    }

    private wakeMemoryWaiters(): void {
        const waiters = this.memoryWaiters;
        this.memoryWaiters = [];
        for (const wake of waiters) wake();
    }

    /** What every model but `except` holds: loaded ones what they really took, loading ones their estimate, disposing ones until gone. */
    private committed(except?: ModelSlot): number {
        let total = 0;
        for (const slot of this.slots.values()) {
            total += slot.disposingBytes;
            if (slot === except) continue;
            if (slot.status === "ready") total += Math.max(slot.loadedBytes, slot.estimate?.bytes ?? 0);
            else if (slot.status === "loading" && slot.reserved) total += slot.estimate?.bytes ?? 0;
        }
        return total;
    }

    /** Running, queued, or admitted and about to take a sequence. */
    private busy(slot: ModelSlot): boolean {
        if (slot.active > 0 || slot.waiting.length > 0) return true;
        const now = this.clock.now();
        while (slot.pending.length > 0 && slot.pending[0]! <= now) slot.pending.shift();
        return slot.pending.length > 0;
    }

    private leastRecentlyUsedIdle(except: ModelSlot): ModelSlot | undefined {
        let victim: ModelSlot | undefined;
        for (const slot of this.slots.values()) {
            if (slot === except || slot.status !== "ready" || slot.draining || !slot.runner || this.busy(slot)) continue;
            if (!victim || slot.lastUsedAt < victim.lastUsedAt) victim = slot;
        }
        return victim;
    }

    /** Unloads an idle model now (eviction, keep-alive): it is `unloaded` at once, and a new request loads it again once its memory is free. */
    private unloadIdle(slot: ModelSlot): void {
        const runner = slot.runner;
        if (!runner) return;
        this.clock.clearTimeout(slot.idleTimer);
        slot.runner = undefined;
        slot.status = "unloaded";
        slot.draining = false;
        this.retire(slot, runner);
    }

    /** Disposes a runner that left its slot, counting its memory as held until it is gone. */
    private retire(slot: ModelSlot, runner: ModelRunner): void {
        const bytes = slot.loadedBytes;
        slot.loadedBytes = 0;
        slot.disposingBytes += bytes;
        const previous = slot.disposing;
        const disposing = runner
            .dispose()
            .catch((error: unknown) => this.logger.error({ model: slot.definition.id, err: String(error) }, "unload failed"))
            .then(async () => {
                await previous;
                slot.disposingBytes -= bytes;
                if (slot.disposing === disposing) slot.disposing = undefined;
                this.wakeMemoryWaiters();
            });
        slot.disposing = disposing;
    }

    private touch(slot: ModelSlot): void {
        slot.lastUsedAt = this.clock.now();
    }

    private lease(slot: ModelSlot, runner: ModelRunner, queuedMs: number, options: AcquireOptions): Lease {
        let released = false;
        return {
            runner,
            queuedMs,
            release: () => {
                if (released) return;
                released = true;
                if (options.keepAliveMs !== undefined) slot.keepAliveMs = options.keepAliveMs;
                this.handOver(slot, runner);
            }
        };
    }

    /** A freed sequence goes straight to the oldest live waiter, so FIFO order holds. */
    private handOver(slot: ModelSlot, runner: ModelRunner): void {
        while (slot.waiting.length > 0 && slot.runner === runner) {
            const next = slot.waiting[0]!;
            this.unqueue(slot, next);
            if (next.signal.aborted) continue;
            next.resolve(runner);
            return;
        }
        slot.active--;
        if (slot.runner === runner && slot.active === 0 && slot.waiting.length === 0) {
            this.touch(slot);
            slot.lastUsedWall = this.wallClock();
            this.wakeMemoryWaiters();
            this.scheduleIdleUnload(slot);
        }
        this.disposeIfDrained(slot);
    }

    /** An idle model unloads when its keep-alive runs out (at once for 0; never for `null`). */
    private scheduleIdleUnload(slot: ModelSlot): void {
        this.clock.clearTimeout(slot.idleTimer);
        const keepAlive = slot.keepAliveMs;
        if (keepAlive === null || this.closed || slot.status !== "ready" || slot.active > 0 || slot.waiting.length > 0) return;
        const unloadIfIdle = (): void => {
            if (slot.status !== "ready" || slot.draining || this.busy(slot)) return;
            this.logger.info({ model: slot.definition.id, keepAliveMs: keepAlive }, "unloading an idle model: its keep-alive ran out");
            this.unloadIdle(slot);
        };
        if (keepAlive <= 0) unloadIfIdle();
        else slot.idleTimer = this.clock.setTimeout(unloadIfIdle, keepAlive);
    }

    private disposeIfDrained(slot: ModelSlot): void {
        if (!slot.draining || slot.active > 0 || slot.waiting.length > 0 || !slot.runner) return;
        this.unloadIdle(slot);
    }

    /**
     * The one teardown of a waiter: out of the queue, its timer and abort listener gone. Every way
     * a waiter leaves (a sequence handed over, abort, timeout, shutdown, crash) goes through here,
     * so the queue's count and listeners can never leak. Returns false when it had already left.
     */
    private unqueue(slot: ModelSlot, waiter: Waiter): boolean {
        const index = slot.waiting.indexOf(waiter);
        if (index === -1) return false;
        slot.waiting.splice(index, 1);
        this.waitingTotal--;
        this.clock.clearTimeout(waiter.timer);
        waiter.signal.removeEventListener("abort", waiter.onAbort);
        return true;
    }

    /** A waiter leaves without a sequence: refused with `reason`. */
    private dropWaiter(slot: ModelSlot, waiter: Waiter, reason: unknown): void {
        if (!this.unqueue(slot, waiter)) return;
        waiter.reject(reason);
        if (slot.active === 0 && slot.waiting.length === 0) this.scheduleIdleUnload(slot);
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
        this.clock.clearTimeout(slot.idleTimer);
        slot.runner = undefined;
        slot.draining = false;
        slot.status = "error";
        slot.error = `its engine process ${reason}`;
        // Not the file's fault: unlike a failed load, the next request after the backoff loads it again.
        slot.errorFileStamp = crashedStamp;
        this.logger.error({ model: id, reason, crashes: slot.crash.count, retryInMs: backoffMs }, "model crashed");
        const refusal = new QuandexError("model_unavailable", { model: id, detail: slot.error }, { retryAfter: Math.ceil(backoffMs / 1000) });
        for (const waiter of [...slot.waiting]) this.dropWaiter(slot, waiter, refusal);
        this.retire(slot, runner);
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
            throw new QuandexError(
                "model_unavailable",
                { model: slot.definition.id, detail: `${slot.error ?? "it crashed"}; it restarts in ${Math.ceil(left / 1000)} s.` },
                { retryAfter: Math.ceil(left / 1000) }
            );
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

/**
 * How long an admitted request may take, after its model is ready, to take its sequence before its
 * admission stops protecting the model from eviction (tokenizing, compiling a grammar, the quota
 * check take milliseconds).
 */
const pendingGraceMs = 10_000;

/** `errorFileStamp` of a model whose runner crashed; never equal to a real file's stamp. */
const crashedStamp = "crashed";

/** The `cause` of a refusal for memory: such a model stays `unloaded`, not `error`. */
const memoryRefusal = new Error("memory budget");

function isMemoryRefusal(error: unknown): boolean {
    return error instanceof QuandexError && error.cause === memoryRefusal;
}

function fileStamp(filePath: string): string | null {
    try {
        const stat = statSync(filePath);
        return `${stat.size}:${stat.mtimeMs}`;
    } catch {
        return null;
    }
}
