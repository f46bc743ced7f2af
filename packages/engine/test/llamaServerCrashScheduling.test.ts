import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { QuandexError } from "@quandex/protocol";
import type { Engine, GenerationEvent, LoadRequest, ModelRunner, RunnerResources } from "../src/Engine.js";
import type { ModelDefinition } from "../src/registry/ModelRegistry.js";
import { Scheduler } from "../src/scheduler/Scheduler.js";
import { ManualClock } from "../src/testing/ManualClock.js";

/** A runner that can die alone, like a llama-server child. */
class MortalRunner implements ModelRunner {
    readonly contextSize = 64;
    readonly parallel: number;
    private readonly listeners: Array<(reason: string) => void> = [];
    disposed = false;

    constructor(request: LoadRequest) {
        this.parallel = request.options.parallel;
    }
    resources(): RunnerResources {
        return { backend: "cpu", gpuLayers: 0, acceleratorBytes: 0, totalBytes: 1 };
    }
    async tokenize(text: string): Promise<number[]> {
        return [1, text.length];
    }
    async *generate(): AsyncGenerator<GenerationEvent> {
        yield { type: "done", finishReason: "stop", promptTokens: 2, completionTokens: 0, cachedTokens: 0, batchSize: 1, generationMs: 0 };
    }
    onExit(listener: (reason: string) => void): void {
        this.listeners.push(listener);
    }
    die(reason: string): void {
        for (const listener of this.listeners) listener(reason);
    }
    async dispose(): Promise<void> {
        this.disposed = true;
    }
}

class MortalEngine implements Pick<Engine, "load"> {
    readonly runners: MortalRunner[] = [];
    async load(request: LoadRequest): Promise<ModelRunner> {
        const runner = new MortalRunner(request);
        this.runners.push(runner);
        return runner;
    }
    get last(): MortalRunner {
        return this.runners.at(-1)!;
    }
}

const dir = mkdtempSync(path.join(os.tmpdir(), "qdx-crash-"));
const model = (id: string, preload = false): ModelDefinition => {
    const file = path.join(dir, `${id}.gguf`);
    writeFileSync(file, "GGUF");
    return { id, path: file, aliases: [], options: { contextSize: 64, parallel: 2, gpu: "auto", threads: 1 }, preload, source: "directory", sizeBytes: 4, mtimeMs: 0 };
};
const signal = () => new AbortController().signal;
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe("Scheduler with runners that can crash", () => {
    it("marks a crashed model error with the reason, fails its queue, and reloads on a request after the backoff", async () => {
        const engine = new MortalEngine();
        const clock = new ManualClock();
        const scheduler = new Scheduler({ engine, clock });
        const def = model("a");
        await scheduler.loadAndWait(def);
        const held = [await scheduler.acquire(def, signal()), await scheduler.acquire(def, signal())];
        const queued = scheduler.acquire(def, signal());
        engine.last.die("was killed by SIGKILL");
        await assert.rejects(queued, (e: unknown) => e instanceof QuandexError && e.code === "model_unavailable" && /SIGKILL/.test(e.message));
        const snap = scheduler.snapshot(def);
        assert.equal(snap.status, "error");
        assert.match(snap.error ?? "", /engine process was killed by SIGKILL/);
        assert.equal(snap.resources, null);
        assert.equal(scheduler.queueDepth, 0);
        assert.equal(engine.last.disposed, true);

        await assert.rejects(
            scheduler.ensureReady(def),
            (e: unknown) => e instanceof QuandexError && e.code === "model_unavailable" && e.retryAfter === 1 && /restarts in 1 s/.test(e.message)
        );
        assert.equal(engine.runners.length, 1, "no restart during the backoff");
        for (const lease of held) lease.release();
        clock.advance(1000);
        await scheduler.ensureReady(def);
        assert.equal(engine.runners.length, 2);
        assert.equal(scheduler.snapshot(def).status, "ready");
        const fresh = [await scheduler.acquire(def, signal()), await scheduler.acquire(def, signal())];
        assert.equal(scheduler.snapshot(def).active, 2, "leases of the dead runner no longer count");
        for (const lease of fresh) lease.release();
    });

    it("doubles the backoff for a model that keeps crashing", async () => {
        const engine = new MortalEngine();
        const clock = new ManualClock();
        const scheduler = new Scheduler({ engine, clock });
        const def = model("b");
        await scheduler.loadAndWait(def);
        engine.last.die("exited with code 134");
        clock.advance(1000);
        await scheduler.ensureReady(def);
        engine.last.die("exited with code 134");
        await assert.rejects(scheduler.ensureReady(def), (e: unknown) => e instanceof QuandexError && e.retryAfter === 2);
        clock.advance(2000);
        await scheduler.ensureReady(def);
        assert.equal(scheduler.snapshot(def).status, "ready");
    });

    it("restarts a preloaded model by itself after the backoff", async () => {
        const engine = new MortalEngine();
        const clock = new ManualClock();
        const scheduler = new Scheduler({ engine, clock });
        const def = model("c", true);
        await scheduler.loadAndWait(def);
        engine.last.die("was killed by SIGSEGV");
        assert.equal(scheduler.snapshot(def).status, "error");
        clock.advance(999);
        assert.equal(engine.runners.length, 1);
        clock.advance(1);
        await flush();
        assert.equal(engine.runners.length, 2);
        assert.equal(scheduler.snapshot(def).status, "ready");
    });

    it("ignores the exit of a runner it already unloaded, and lets a crashed model be unloaded", async () => {
        const engine = new MortalEngine();
        const clock = new ManualClock();
        const scheduler = new Scheduler({ engine, clock });
        const def = model("d");
        await scheduler.loadAndWait(def);
        const first = engine.last;
        await scheduler.unload(def);
        first.die("was stopped");
        assert.equal(scheduler.snapshot(def).status, "unloaded");
        await scheduler.loadAndWait(def);
        engine.last.die("exited with code 1");
        await scheduler.unload(def);
        assert.equal(scheduler.snapshot(def).status, "unloaded");
        assert.equal(scheduler.snapshot(def).error, null);
        await scheduler.ensureReady(def);
        assert.equal(scheduler.snapshot(def).status, "ready", "an unloaded model loads on request without waiting for the backoff");
        scheduler.close();
    });
});
