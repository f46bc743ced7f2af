import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { LlamaServerEngine, NodeLlamaEngine, type Engine } from "@quandex/engine";
import { llamaServerForTests, makeSyntheticModel, syntheticModelPresets } from "@quandex/test-support";
import { auth, createHarness, parseSse, type Harness } from "../support/harness.js";

// The 85M synthetic model (random weights, the measurements' "realistic compute" model; the bench
// writes it with the same generator and reuses the file) samples from a vocabulary in which half the
// tokens are single bytes, so what it generates is arbitrary bytes, invalid UTF-8 included. Over
// HTTP, on both engines, that must stream as valid UTF-8 SSE (bad bytes as U+FFFD), never a 500 and
// never an error frame.
const { binaryPath, skipReason } = llamaServerForTests();
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });

function arbitraryBytesSuite(name: string, makeEngine: () => Promise<Engine>, skip: string | undefined): void {
    describe(`arbitrary model output over HTTP: ${name}`, { skip }, () => {
        let h: Harness;
        before(async () => {
            const synthetic = await makeSyntheticModel(syntheticModelPresets["85m"]);
            h = await createHarness({ engine: await makeEngine(), files: { "synthetic-85m.gguf": synthetic.path }, defaults: { contextSize: 256, parallel: 1, threads: 1 } });
            await h.listen();
        });
        after(async () => {
            await h?.close();
            await h?.engine.dispose();
        });

        const post = (body: object) =>
            fetch(`${h.url}/v1/generate`, { method: "POST", headers: { ...auth(h.keys.generate), "content-type": "application/json" }, body: JSON.stringify(body) });
        const sampled = (seed: number, stream: boolean) => ({
            model: "synthetic-85m",
            prompt: "Once upon a time",
            max_tokens: 32,
            ignore_eos: true,
            temperature: 1.5,
            top_k: 0,
            top_p: 1,
            seed,
            stream
        });

        it("streams valid UTF-8 SSE that ends in [DONE], for several seeds", async () => {
            let replaced = 0;
            for (const seed of [1, 2]) {
                const res = await post(sampled(seed, true));
                assert.equal(res.status, 200);
                assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream; charset=utf-8/);
                // Decoding with `fatal` throws on any invalid byte sequence: the wire itself is UTF-8.
                const body = fatalUtf8.decode(await res.arrayBuffer());
                const events = parseSse(body).filter((e) => !e.comment);
                assert.ok(!events.some((e) => e.event === "error"), body.slice(-400));
                assert.match(body, /data: \[DONE\]\n\n$/);
                const text = events.map((e) => (e.data as { choices?: Array<{ text?: string }> }).choices?.[0]?.text ?? "").join("");
                replaced += [...text].filter((c) => c === "\uFFFD").length;
            }
            // Not asserted (sampling decides), but says whether the run reached invalid bytes.
            process.stdout.write(`${name}: ${replaced} U+FFFD in 2 streams of 32 random tokens\n`);
        });

        it("answers a non-streamed request 200 with valid JSON", async () => {
            for (const seed of [3]) {
                const res = await post(sampled(seed, false));
                const raw = fatalUtf8.decode(await res.arrayBuffer());
                assert.equal(res.status, 200, raw);
                const body = JSON.parse(raw) as { choices: Array<{ text: string }> };
                assert.equal(typeof body.choices[0]!.text, "string");
            }
        });
    });
}

arbitraryBytesSuite("node-llama-cpp", () => NodeLlamaEngine.create({ gpu: false }), undefined);
arbitraryBytesSuite("llama-server", () => LlamaServerEngine.create({ binaryPath: binaryPath!, gpu: false }), skipReason);
