import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { QuandexError } from "@quandex/protocol";
import type { Engine, LoadRequest, ModelRunner } from "../src/Engine.js";
import type { ModelDefinition } from "../src/registry/ModelRegistry.js";
import type { Lease } from "../src/scheduler/Lease.js";
import { Scheduler } from "../src/scheduler/Scheduler.js";
import { FakeEngine } from "../src/testing/FakeEngine.js";
import { ManualClock } from "../src/testing/ManualClock.js";

const MB = 1_000_000;

const model = (id: string, extra: Partial<ModelDefinition> = {}): ModelDefinition => ({
    id,
    path: `/models/${id}.gguf`,
    aliases: [],
    options: { contextSize: 64, parallel: 2, gpu: "auto", threads: 1 },
    preload: false,
    source: "directory",
    sizeBytes: 0,
    mtimeMs: 0,
    ...extra
});

/** A fake engine whose models hold `bytes[id]` (the estimate says the same), and which counts what is loaded at once. */
class CountingEngine implements Pick<Engine, "load" | "estimate"> {
    readonly inner: FakeEngine;
    loadedNow = 0;
    mostLoaded = 0;
    readonly loads: string[] = [];

    constructor(private readonly bytes: Record<string, number>) {
        this.inner = new FakeEngine({ modelBytes: (path) => this.bytesOf(path) });
    }

    private bytesOf(path: string): number {
        const id = path.replace(/^\/models\//, "").replace(/\.gguf$/, "");
        return this.bytes[id] ?? MB;
    }

    async estimate(request: Omit<LoadRequest, "signal">): Promise<number> {
        return this.bytesOf(request.path);
    }

    async load(request: LoadRequest): Promise<ModelRunner> {
        this.loads.push(request.id);
        const runner = await this.inner.load(request);
        this.loadedNow++;
        this.mostLoaded = Math.max(this.mostLoaded, this.loadedNow);
        const dispose = runner.dispose.bind(runner);
        runner.dispose = async () => {
            this.loadedNow--;
            await dispose();
        };
        return runner;
    }
}

const signal = () => new AbortController().signal;
const flush = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

async function use(scheduler: Scheduler, definition: ModelDefinition): Promise<Lease> {
    await scheduler.ensureReady(definition);
    return scheduler.acquire(definition, signal());
}

describe("Scheduler: memory budget, eviction and keep-alive", () => {
    it("evicts the least recently used idle model to make room, and counts it", async () => {
        const clock = new ManualClock();
        const engine = new CountingEngine({ a: 4 * MB, b: 4 * MB, c: 4 * MB });
        const scheduler = new Scheduler({ engine, clock, memoryBudgetBytes: 9 * MB, defaultKeepAliveMs: null });
        const [a, b, c] = [model("a"), model("b"), model("c")];
        (await use(scheduler, a)).release();
        clock.advance(10);
        (await use(scheduler, b)).release();
        clock.advance(10);
        // a was used first, so it goes; b stays.
        (await use(scheduler, c)).release();
        assert.equal(scheduler.snapshot(a).status, "unloaded");
        assert.equal(scheduler.snapshot(b).status, "ready");
        assert.equal(scheduler.snapshot(c).status, "ready");
        assert.deepEqual(scheduler.memory(), { budgetBytes: 9 * MB, committedBytes: 8 * MB, evictionsTotal: 1 });
        assert.equal(engine.mostLoaded, 2);
        // Using b again leaves c the least recently used: reloading a evicts c.
        clock.advance(10);
        (await use(scheduler, b)).release();
        clock.advance(10);
        (await use(scheduler, a)).release();
        assert.equal(scheduler.snapshot(c).status, "unloaded", "c was the least recently used idle model");
        assert.equal(scheduler.snapshot(b).status, "ready");
        assert.equal(engine.mostLoaded, 2);
    });

    it("never evicts a busy model: a load waits until one is idle, then evicts it", async () => {
        const clock = new ManualClock();
        const engine = new CountingEngine({ a: 5 * MB, b: 5 * MB });
        const scheduler = new Scheduler({ engine, clock, memoryBudgetBytes: 8 * MB, defaultKeepAliveMs: null });
        const [a, b] = [model("a"), model("b")];
        const busy = await use(scheduler, a);
        let bReady = false;
        const waiting = scheduler.ensureReady(b).then(() => (bReady = true));
        await flush();
        assert.equal(bReady, false, "b waits: a is busy");
        assert.equal(scheduler.snapshot(a).status, "ready");
        assert.equal(scheduler.snapshot(b).status, "loading");
        busy.release();
        await waiting;
        assert.equal(scheduler.snapshot(a).status, "unloaded");
        assert.equal(scheduler.snapshot(b).status, "ready");
        assert.equal(engine.mostLoaded, 1);
    });

    it("a queued request counts as busy too", async () => {
        const clock = new ManualClock();
        const engine = new CountingEngine({ a: 5 * MB, b: 5 * MB });
        const scheduler = new Scheduler({ engine, clock, memoryBudgetBytes: 8 * MB, defaultKeepAliveMs: null });
        const [a, b] = [model("a", { options: { contextSize: 64, parallel: 1, gpu: "auto", threads: 1 } }), model("b")];
        const first = await use(scheduler, a);
        const queued = scheduler.acquire(a, signal());
        const loadB = scheduler.ensureReady(b);
        await flush();
        first.release();
        // The freed sequence goes to the queued request: a is still busy, b still waits.
        const second = await queued;
        await flush();
        assert.equal(scheduler.snapshot(b).status, "loading");
        second.release();
        await loadB;
        assert.equal(scheduler.snapshot(a).status, "unloaded");
    });

    it("gives up after the queue timeout with 503 model_unavailable saying memory is why; the model stays unloaded", async () => {
        const clock = new ManualClock();
        const engine = new CountingEngine({ a: 5 * MB, b: 5 * MB });
        const scheduler = new Scheduler({ engine, clock, memoryBudgetBytes: 8 * MB, queueTimeoutMs: 1000, defaultKeepAliveMs: null });
        const [a, b] = [model("a"), model("b")];
        const busy = await use(scheduler, a);
        const attempt = scheduler.ensureReady(b);
        await flush();
        clock.advance(1000);
        await assert.rejects(attempt, (error: unknown) => error instanceof QuandexError && error.status === 503 && /memory/.test(error.message) && (error.retryAfter ?? 0) >= 1);
        await flush();
        assert.equal(scheduler.snapshot(b).status, "unloaded");
        assert.equal(scheduler.snapshot(b).error, null);
        busy.release();
    });

    it("refuses a model larger than the whole budget at once, without unloading anything, and keeps it unloaded", async () => {
        const clock = new ManualClock();
        const engine = new CountingEngine({ a: 2 * MB, huge: 20 * MB });
        const scheduler = new Scheduler({ engine, clock, memoryBudgetBytes: 8 * MB, defaultKeepAliveMs: null });
        const [a, huge] = [model("a"), model("huge")];
        (await use(scheduler, a)).release();
        await assert.rejects(
            scheduler.ensureReady(huge),
            (error: unknown) => error instanceof QuandexError && error.code === "model_unavailable" && /more than the whole memory budget/.test(error.message)
        );
        await assert.rejects(scheduler.load(huge), (error: unknown) => error instanceof QuandexError && error.code === "model_unavailable");
        assert.equal(scheduler.snapshot(huge).status, "unloaded");
        assert.equal(scheduler.snapshot(a).status, "ready", "nothing was evicted for a load that can never fit");
        assert.deepEqual(engine.loads, ["a"]);
    });

    it("unloads an idle model when its keep-alive runs out, and not while it is busy", async () => {
        const clock = new ManualClock();
        const engine = new CountingEngine({});
        const scheduler = new Scheduler({ engine, clock, defaultKeepAliveMs: 300_000, wallClock: () => 1_000_000 + clock.now() });
        const m = model("m");
        const lease = await use(scheduler, m);
        clock.advance(400_000);
        assert.equal(scheduler.snapshot(m).status, "ready", "busy: the keep-alive does not run");
        assert.equal(scheduler.snapshot(m).expiresAt, null);
        lease.release();
        const snapshot = scheduler.snapshot(m);
        assert.equal(snapshot.lastUsedAt, 1_000_000 + 400_000);
        assert.equal(snapshot.expiresAt, 1_000_000 + 400_000 + 300_000);
        clock.advance(299_999);
        assert.equal(scheduler.snapshot(m).status, "ready");
        clock.advance(1);
        assert.equal(scheduler.snapshot(m).status, "unloaded");
        assert.equal(scheduler.memory().evictionsTotal, 0, "a keep-alive unload is not an eviction");
    });

    it("a request's keep_alive wins: 0 unloads after it, null keeps the model forever", async () => {
        const clock = new ManualClock();
        const engine = new CountingEngine({});
        const scheduler = new Scheduler({ engine, clock, defaultKeepAliveMs: 300_000 });
        const m = model("m");
        await scheduler.ensureReady(m);
        (await scheduler.acquire(m, signal(), { keepAliveMs: 0 })).release();
        assert.equal(scheduler.snapshot(m).status, "unloaded");
        await scheduler.ensureReady(m);
        (await scheduler.acquire(m, signal(), { keepAliveMs: null })).release();
        clock.advance(10 * 3_600_000);
        assert.equal(scheduler.snapshot(m).status, "ready");
        assert.equal(scheduler.snapshot(m).expiresAt, null);
    });

    it("models that are preloaded or configured with keep_alive -1 stay loaded; a configured keep_alive wins over the default", async () => {
        const clock = new ManualClock();
        const engine = new CountingEngine({});
        const scheduler = new Scheduler({ engine, clock, defaultKeepAliveMs: 1000 });
        const preloaded = model("p", { preload: true });
        const short = model("s", { keepAliveMs: 10 });
        for (const m of [preloaded, short]) (await use(scheduler, m)).release();
        clock.advance(10);
        assert.equal(scheduler.snapshot(short).status, "unloaded");
        clock.advance(1_000_000);
        assert.equal(scheduler.snapshot(preloaded).status, "ready");
    });

    it("a request that arrives while its model is being evicted waits for the reload instead of failing", async () => {
        const clock = new ManualClock();
        const inner = new CountingEngine({ a: 5 * MB, b: 5 * MB });
        // Disposing a takes a while, as freeing a large model does.
        let finishDispose: (() => void) | undefined;
        const engine: Pick<Engine, "load" | "estimate"> = {
            estimate: (request) => inner.estimate(request),
            load: async (request) => {
                const runner = await inner.load(request);
                const dispose = runner.dispose.bind(runner);
                runner.dispose = () => new Promise<void>((resolve) => (finishDispose = () => void dispose().then(resolve)));
                return runner;
            }
        };
        const scheduler = new Scheduler({ engine, clock, memoryBudgetBytes: 8 * MB, defaultKeepAliveMs: null });
        const [a, b] = [model("a"), model("b")];
        (await use(scheduler, a)).release();
        const loadB = scheduler.ensureReady(b);
        await flush();
        assert.equal(scheduler.snapshot(a).status, "unloaded", "a is being evicted");
        const requestA = use(scheduler, a);
        await flush();
        finishDispose!();
        await loadB;
        const useB = await scheduler.acquire(b, signal());
        await flush();
        // a's reload needs b's memory: it waits until b is idle, then gets it.
        useB.release();
        await flush();
        finishDispose!();
        const lease = await requestA;
        assert.equal(scheduler.snapshot(a).status, "ready");
        assert.equal(scheduler.snapshot(b).status, "unloaded");
        lease.release();
    });

    it("acquire reloads a model unloaded between a request's checks and its turn", async () => {
        const clock = new ManualClock();
        const engine = new CountingEngine({});
        const scheduler = new Scheduler({ engine, clock, defaultKeepAliveMs: 0 });
        const m = model("m");
        await scheduler.ensureReady(m);
        (await scheduler.acquire(m, signal())).release();
        assert.equal(scheduler.snapshot(m).status, "unloaded");
        const lease = await scheduler.acquire(m, signal());
        assert.equal(scheduler.snapshot(m).status, "ready");
        assert.equal(scheduler.snapshot(m).active, 1);
        lease.release();
        assert.deepEqual(engine.loads, ["m", "m"]);
    });

    it("requests for a model that is loading wait for the load rather than bounce", async () => {
        const engine = new CountingEngine({});
        let open: (() => void) | undefined;
        const gated: Pick<Engine, "load" | "estimate"> = {
            estimate: (request) => engine.estimate(request),
            load: async (request) => {
                await new Promise<void>((resolve) => (open = resolve));
                return engine.load(request);
            }
        };
        const scheduler = new Scheduler({ engine: gated, clock: new ManualClock() });
        const m = model("m");
        const first = scheduler.ensureReady(m);
        await flush();
        const second = scheduler.ensureReady(m);
        await flush();
        open!();
        await Promise.all([first, second]);
        assert.deepEqual(engine.loads, ["m"], "one load serves both");
    });
});
