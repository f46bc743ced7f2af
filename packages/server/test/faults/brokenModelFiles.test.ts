import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, renameSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FakeEngine } from "@quandex/engine/testing";
import { requireTestModel, writeBrokenModels } from "@quandex/test-support";
import { auth, createHarness, type Harness } from "../support/harness.js";

// Truncated, corrupt and bad-offset GGUF files beside a good model: /v1/models lists each as
// `error` with the reason before anyone asks for it (the registry reads each file's header when it
// appears), a request for one is refused with 503 without a load being tried, and the good model
// serves throughout. cli.test.ts runs the same files through the real engines.
const model = requireTestModel();
const broken = ["corrupt", "truncated", "bad-offsets"] as const;

interface Listed {
    id: string;
    status: string;
    error: string | null;
}

describe("broken model files in the models dir", () => {
    let h: Harness;
    let engine: FakeEngine;
    const list = async (): Promise<Record<string, Listed>> => {
        const res = await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(h.keys.read) });
        assert.equal(res.statusCode, 200);
        return Object.fromEntries((res.json() as { models: Listed[] }).models.map((m) => [m.id, m]));
    };
    const generate = (id: string) =>
        h.app.inject({
            method: "POST",
            url: "/v1/generate",
            headers: { ...auth(h.keys.generate), "content-type": "application/json" },
            payload: { model: id, prompt: "x", max_tokens: 3 }
        });
    /** The listing once every file's check has finished (they run when a file appears). */
    const settled = async (ids: readonly string[], status: (m: Listed) => boolean): Promise<Record<string, Listed>> => {
        const started = Date.now();
        for (;;) {
            const models = await list();
            if (ids.every((id) => models[id] && status(models[id]!))) return models;
            if (Date.now() - started > 5_000) return models;
            await sleep(20);
        }
    };

    before(async () => {
        const files = writeBrokenModels(model, mkdtempSync(path.join(os.tmpdir(), "qdx-broken-")));
        engine = new FakeEngine();
        h = await createHarness({
            engine,
            files: { "good.gguf": model, "corrupt.gguf": files.corrupt, "truncated.gguf": files.truncated, "bad-offsets.gguf": files.badOffsets }
        });
    });
    after(async () => {
        await h.close();
    });

    it("lists each broken file as error with its reason before any request, and the good one as unloaded", async () => {
        const models = await settled(broken, (m) => m.status === "error");
        for (const id of broken) {
            assert.equal(models[id]?.status, "error", `${id}: ${JSON.stringify(models[id])}`);
            assert.ok((models[id]!.error ?? "").length > 10, `${id} says why`);
        }
        assert.match(models["truncated"]!.error!, /GGUF|tensor|end/i);
        assert.match(models["bad-offsets"]!.error!, /past the end/);
        assert.equal(models["good"]?.status, "unloaded");
        assert.equal(models["good"]?.error, null);
        assert.equal(engine.loads.length, 0, "listing loads nothing");
    });

    it("refuses a broken model with 503 model_unavailable and its reason, without trying a load; the good one serves", async () => {
        await settled(broken, (m) => m.status === "error");
        const results = await Promise.all([...broken.map((id) => generate(id)), generate("good")]);
        for (const [i, id] of broken.entries()) {
            const res = results[i]!;
            assert.equal(res.statusCode, 503, id);
            const error = (res.json() as { error: { code: string; message: string } }).error;
            assert.equal(error.code, "model_unavailable");
            assert.match(error.message, new RegExp(`'${id}'`));
        }
        assert.equal(results.at(-1)!.statusCode, 200, results.at(-1)!.body);
        assert.deepEqual(
            engine.loads.map((l) => path.basename(l.path)),
            ["good.gguf"],
            "only the good file reached the engine"
        );
    });

    it("a broken file replaced by a good one is served again", async () => {
        const target = path.join(h.modelsDir, "truncated.gguf");
        const fresh = path.join(h.modelsDir, ".incoming");
        copyFileSync(model, fresh);
        renameSync(fresh, target);
        const models = await settled(["truncated"], (m) => m.status !== "error");
        assert.equal(models["truncated"]?.status, "unloaded", JSON.stringify(models["truncated"]));
        const res = await generate("truncated");
        assert.equal(res.statusCode, 200, res.body);
    });
});
