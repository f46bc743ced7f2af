import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { QuandexError } from "@quandex/protocol";
import type { Engine, LoadRequest, ModelRunner } from "../src/Engine.js";
import type { ModelDefinition } from "../src/registry/ModelRegistry.js";
import { Scheduler } from "../src/scheduler/Scheduler.js";
import { FakeEngine } from "../src/testing/FakeEngine.js";
import { ManualClock } from "../src/testing/ManualClock.js";

const model = (id = "m", parallel = 2): ModelDefinition => ({
    id,
    path: `/models/${id}.gguf`,
    aliases: [],
    options: { contextSize: 64, parallel, gpu: "auto", threads: 1 },
    preload: false,
    source: "directory",
    sizeBytes: 0,
    mtimeMs: 0
});

/** A loader whose loads finish only when the test says so. */
class GatedEngine implements Pick<Engine, "load"> {
    private gates: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
    loads = 0;
    constructor(private readonly inner = new FakeEngine()) {}
    async load(request: LoadRequest): Promise<ModelRunner> {
        this.loads++;
        await new Promise<void>((resolve, reject) => this.gates.push({ resolve, reject }));
        return this.inner.load(request);
    }
    finish(): void {
        this.gates.shift()?.resolve();
    }
    fail(message: string): void {
        this.gates.shift()?.reject(new Error(message));
    }
}

const signal = () => new AbortController().signal;
const flush = () => new Promise((resolve) => setImmediate(resolve));

async function ready(scheduler: Scheduler, def: ModelDefinition): Promise<void> {
    await scheduler.loadAndWait(def);
    assert.equal(scheduler.snapshot(def).status, "ready");
}

describe("Scheduler", () => {
    it("hands out at most `parallel` sequences and queues the rest in FIFO order", async () => {
        const scheduler = new Scheduler({ engine: new FakeEngine(), clock: new ManualClock() });
        const def = model("m", 2);
        await ready(scheduler, def);
        const a = await scheduler.acquire(def, signal());
        const b = await scheduler.acquire(def, signal());
        const order: string[] = [];
        const c = scheduler.acquire(def, signal()).then((l) => (order.push("c"), l));
        const d = scheduler.acquire(def, signal()).then((l) => (order.push("d"), l));
        await flush();
        assert.deepEqual(order, []);
        assert.equal(scheduler.queueDepth, 2);
        assert.equal(scheduler.snapshot(def).active, 2);
        a.release();
        await flush();
        assert.deepEqual(order, ["c"]);
        b.release();
        await flush();
        assert.deepEqual(order, ["c", "d"]);
        (await c).release();
        (await d).release();
        assert.equal(scheduler.snapshot(def).active, 0);
        assert.equal(scheduler.queueDepth, 0);
    });

    it("refuses at once with 503 server_busy and Retry-After when the queue is full", async () => {
        const scheduler = new Scheduler({ engine: new FakeEngine(), clock: new ManualClock(), maxQueue: 1 });
        const def = model("m", 1);
        await ready(scheduler, def);
        await scheduler.acquire(def, signal());
        void scheduler.acquire(def, signal()).catch(() => undefined);
        await assert.rejects(scheduler.acquire(def, signal()), (e: unknown) => e instanceof QuandexError && e.code === "server_busy" && e.status === 503 && e.retryAfter === 1);
    });

    it("times a waiter out with 503 after the queue timeout", async () => {
        const clock = new ManualClock();
        const scheduler = new Scheduler({ engine: new FakeEngine(), clock, queueTimeoutMs: 5_000 });
        const def = model("m", 1);
        await ready(scheduler, def);
        await scheduler.acquire(def, signal());
        const waiting = scheduler.acquire(def, signal());
        clock.advance(4_999);
        assert.equal(scheduler.queueDepth, 1);
        clock.advance(1);
        await assert.rejects(waiting, (e: unknown) => e instanceof QuandexError && e.code === "server_busy");
        assert.equal(scheduler.queueDepth, 0);
    });

    it("drops a waiter whose client went away and never gives it a sequence", async () => {
        const scheduler = new Scheduler({ engine: new FakeEngine(), clock: new ManualClock() });
        const def = model("m", 1);
        await ready(scheduler, def);
        const first = await scheduler.acquire(def, signal());
        const gone = new AbortController();
        const abandoned = scheduler.acquire(def, gone.signal);
        const next = scheduler.acquire(def, signal());
        gone.abort(new Error("client left"));
        await assert.rejects(abandoned, /client left/);
        first.release();
        const lease = await next;
        assert.equal(scheduler.snapshot(def).active, 1);
        lease.release();
        lease.release();
        assert.equal(scheduler.snapshot(def).active, 0, "a double release must not free two sequences");
    });

    it("lets every request for a loading model wait for the one load; past the timeout they get 503 model_loading", async () => {
        const clock = new ManualClock();
        const engine = new GatedEngine();
        const scheduler = new Scheduler({ engine, clock, queueTimeoutMs: 1_000 });
        const def = model();
        const starter = scheduler.ensureReady(def);
        assert.equal(scheduler.snapshot(def).status, "loading");
        clock.advance(500);
        const second = scheduler.ensureReady(def);
        const late = scheduler.ensureReady(def);
        clock.advance(500);
        await assert.rejects(starter, (e: unknown) => e instanceof QuandexError && e.code === "model_loading" && e.retryAfter !== undefined);
        engine.finish();
        await second;
        await late;
        assert.equal(scheduler.snapshot(def).status, "ready");
        assert.equal(engine.loads, 1, "one load, not one per request");
    });

    it("puts a model that fails to load in `error` and does not retry an unchanged file on every request", async () => {
        const engine = new GatedEngine();
        const scheduler = new Scheduler({ engine, clock: new ManualClock() });
        const def = model("broken");
        const first = scheduler.ensureReady(def);
        engine.fail("bad tensor offsets");
        await assert.rejects(first, (e: unknown) => e instanceof QuandexError && e.code === "model_unavailable" && /bad tensor offsets/.test(e.message));
        const snap = scheduler.snapshot(def);
        assert.equal(snap.status, "error");
        assert.match(snap.error ?? "", /bad tensor offsets/);
        await assert.rejects(scheduler.ensureReady(def), (e: unknown) => e instanceof QuandexError && e.code === "model_unavailable");
        assert.equal(engine.loads, 1);
    });

    it("unloads only after in-flight requests finish, refusing new ones meanwhile", async () => {
        const engine = new FakeEngine();
        const scheduler = new Scheduler({ engine, clock: new ManualClock() });
        const def = model("m", 2);
        await ready(scheduler, def);
        const lease = await scheduler.acquire(def, signal());
        await scheduler.unload(def);
        assert.equal(scheduler.snapshot(def).status, "ready", "still serving the in-flight request");
        await assert.rejects(scheduler.ensureReady(def), (e: unknown) => e instanceof QuandexError && e.code === "model_unavailable");
        lease.release();
        assert.equal(scheduler.snapshot(def).status, "unloaded");
        await scheduler.ensureReady(def);
        assert.equal(scheduler.snapshot(def).status, "ready", "a later request loads it again");
    });

    it("rejects queued requests with server_shutdown when closed", async () => {
        const scheduler = new Scheduler({ engine: new FakeEngine(), clock: new ManualClock() });
        const def = model("m", 1);
        await ready(scheduler, def);
        await scheduler.acquire(def, signal());
        const waiting = scheduler.acquire(def, signal());
        scheduler.close();
        await assert.rejects(waiting, (e: unknown) => e instanceof QuandexError && e.code === "server_shutdown");
        await assert.rejects(scheduler.ensureReady(def), (e: unknown) => e instanceof QuandexError && e.code === "server_shutdown");
    });

    it("times out a slow first load with 503 model_loading instead of hanging", async () => {
        const clock = new ManualClock();
        const engine = new GatedEngine();
        const scheduler = new Scheduler({ engine, clock, queueTimeoutMs: 1_000 });
        const def = model();
        const starter = scheduler.ensureReady(def);
        clock.advance(1_000);
        await assert.rejects(starter, (e: unknown) => e instanceof QuandexError && e.code === "model_loading");
        engine.finish();
        await flush();
        await flush();
        assert.equal(scheduler.snapshot(def).status, "ready", "the load itself goes on");
    });
});
