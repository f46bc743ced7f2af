import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FakeEngine } from "@quandex/engine/testing";
import { generateLimits } from "@quandex/protocol";
import { requireTestModel } from "@quandex/test-support";
import { auth, createHarness, type Harness } from "../support/harness.js";

/** Limits on what a client controls: each refusal says what the limit is. */
describe("limits on client-controlled input", () => {
    let h: Harness;
    before(async () => {
        h = await createHarness({ engine: new FakeEngine(), files: { "m.gguf": requireTestModel() } });
    });
    after(() => h.close());
    const post = (url: string, payload: unknown) =>
        h.app.inject({ method: "POST", url, headers: { ...auth(h.keys.generate), "content-type": "application/json" }, payload: payload as Record<string, unknown> });
    const error = (res: { json(): unknown }) => (res.json() as { error: { code: string; message: string; param: string | null } }).error;

    // The audit: 10,000 stop strings were refused with the misleading "must be string".
    for (const [url, body] of [
        ["/v1/generate", { model: "m", prompt: "x" }],
        ["/v1/chat/completions", { model: "m", messages: [{ role: "user", content: "x" }] }],
        ["/v1/completions", { model: "m", prompt: "x" }]
    ] as const) {
        it(`${url}: too many stop strings names the limit`, async () => {
            const res = await post(url, { ...body, stop: Array.from({ length: 10_000 }, (_, i) => `s${i}`) });
            assert.equal(res.statusCode, 400);
            assert.equal(error(res).code, "invalid_parameter");
            assert.equal(error(res).param, "stop");
            assert.match(error(res).message, new RegExp(`at most ${generateLimits.maxStopSequences} items`));
        });
        it(`${url}: a stop string too long names the limit`, async () => {
            const res = await post(url, { ...body, stop: ["ok", "x".repeat(generateLimits.maxStopSequenceLength + 1)] });
            assert.equal(res.statusCode, 400);
            assert.match(error(res).message, new RegExp(`at most ${generateLimits.maxStopSequenceLength} characters`));
        });
    }
});
