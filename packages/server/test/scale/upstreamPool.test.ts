import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { readServerSentEvents } from "@quandex/protocol/sse";
import { goldenText, llamaServerForTests, requireTestModel } from "@quandex/test-support";
import { runCli, startServerProcess, type ServerProcess } from "../support/serverProcess.js";
import { LlamaServerChild } from "./LlamaServerChild.js";

// Two real llama-server processes on the test model as one upstream pool behind a real Quandex
// process: balancing, kill -9 failover, in-band errors, health ejection and re-admission, and a
// client disconnect that stops the upstream's generation.
const { binaryPath, skipReason } = llamaServerForTests();
const model = requireTestModel();
const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), "qdx-up-"));

interface StreamOutcome {
    text: string;
    finish: string | null;
    error: string | null;
    status: number;
}

describe("an upstream pool of two llama-server processes", { skip: skipReason }, () => {
    let a: LlamaServerChild;
    let b: LlamaServerChild;
    let quandex: ServerProcess;
    let key: string;

    const post = (route: string, body: object, signal?: AbortSignal): Promise<Response> =>
        fetch(`${quandex.url}${route}`, {
            method: "POST",
            headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
            body: JSON.stringify(body),
            ...(signal && { signal })
        });

    const stream = async (body: object): Promise<StreamOutcome> => {
        const res = await post("/v1/generate", { model: "stories", prompt: "Once upon a time", stream: true, ...body });
        const outcome: StreamOutcome = { text: "", finish: null, error: null, status: res.status };
        if (res.status !== 200) {
            outcome.error = await res.text();
            return outcome;
        }
        for await (const { event, data } of readServerSentEvents(res.body! as unknown as AsyncIterable<Uint8Array>)) {
            if (data === "[DONE]") break;
            const frame = JSON.parse(data) as { choices?: Array<{ text: string; finish_reason: string | null }>; error?: { message: string } };
            if (event === "error" || frame.error) outcome.error = frame.error?.message ?? data;
            const choice = frame.choices?.[0];
            if (choice) {
                outcome.text += choice.text;
                if (choice.finish_reason) outcome.finish = choice.finish_reason;
            }
        }
        return outcome;
    };

    const entry = async (): Promise<{ source?: string; upstream?: { healthy: number; total: number }; status: string }> => {
        const res = await fetch(`${quandex.url}/v1/models/stories`, { headers: { authorization: `Bearer ${key}` } });
        return (await res.json()) as { source?: string; upstream?: { healthy: number; total: number }; status: string };
    };

    const waitForHealth = async (healthy: number): Promise<number> => {
        const started = Date.now();
        for (let i = 0; i < 100; i++) {
            if ((await entry()).upstream?.healthy === healthy) return Date.now() - started;
            await sleep(100);
        }
        assert.fail(`the pool never reported ${healthy} healthy endpoints: ${JSON.stringify(await entry())}`);
    };

    before(async () => {
        // Two slots each, 4096 tokens per slot: long enough streams to kill one mid-way.
        const args = ["--parallel", "2", "--ctx-size", "8192"];
        [a, b] = await Promise.all([LlamaServerChild.start(binaryPath!, model, args), LlamaServerChild.start(binaryPath!, model, args)]);
        const dir = tmp();
        const config = path.join(dir, "quandex.yaml");
        writeFileSync(
            config,
            [
                "upstreams:",
                "  - name: pool",
                "    type: openai",
                "    endpoints:",
                `      - url: ${a.url}`,
                `      - url: ${b.url}`,
                "    models:",
                "      - id: stories",
                "        upstream_model: stories260K",
                "        context_size: 4096",
                "    health_check: { path: /health, interval: 0.3, timeout: 0.5 }",
                "    eject_after: 2",
                "    eject_backoff: 0.5",
                // Requests waiting in a surviving server's own queue get no byte until a slot frees; on a loaded 2-core machine that can take long.
                "    idle_timeout: 300",
                ""
            ].join("\n")
        );
        const dataDir = path.join(dir, "data");
        const created = await runCli(["keys", "create", "--name", "t", "--json", "--data-dir", dataDir, "--rps", "1000", "--burst", "1000", "--daily", "100000"]);
        assert.equal(created.code, 0, created.stderr);
        key = (JSON.parse(created.stdout) as { key: string }).key;
        quandex = await startServerProcess(["--config", config, "--data-dir", dataDir, "--models-dir", path.join(dir, "models")]);
        await waitForHealth(2);
    });

    after(async () => {
        await quandex?.stop();
        await a?.stop();
        await b?.stop();
    });

    it("lists the model with its pool and live health, and answers the golden text with null for what it cannot measure", async () => {
        const listed = await entry();
        assert.equal(listed.source, "upstream:pool");
        assert.deepEqual(listed.upstream, { pool: "pool", healthy: 2, total: 2 });
        const res = await post("/v1/generate", { model: "stories", prompt: "Once upon a time", temperature: 0, max_tokens: 100 });
        assert.equal(res.status, 200, await res.clone().text());
        const body = (await res.json()) as { choices: Array<{ text: string }>; usage: { completion_tokens: number; prompt_tokens: number }; metal_stats: Record<string, unknown> };
        assert.equal(body.choices[0]!.text, goldenText);
        assert.equal(body.usage.completion_tokens, 100);
        assert.ok(body.usage.prompt_tokens > 0);
        assert.equal(body.metal_stats.backend, null);
        assert.equal(body.metal_stats.gpu_layers, null);
        assert.equal(body.metal_stats.mps_allocated_bytes, null);
    });

    it("serves OpenAI chat and completions on the same model", async () => {
        const chat = await post("/v1/chat/completions", { model: "stories", messages: [{ role: "user", content: "Hello" }], max_tokens: 8, temperature: 0 });
        assert.equal(chat.status, 200, await chat.clone().text());
        const chatBody = (await chat.json()) as { choices: Array<{ message: { content: string } }>; usage: { completion_tokens: number } };
        assert.ok(chatBody.usage.completion_tokens > 0);
        const completion = await post("/v1/completions", { model: "stories", prompt: "Once upon a time", max_tokens: 8, temperature: 0 });
        assert.equal(completion.status, 200, await completion.clone().text());
        assert.ok(((await completion.json()) as { choices: Array<{ text: string }> }).choices[0]!.text.length > 0);
    });

    it("balances concurrent streams across both servers", async () => {
        const before = [await a.metric("llamacpp:tokens_predicted_total"), await b.metric("llamacpp:tokens_predicted_total")];
        const outcomes = await Promise.all(Array.from({ length: 8 }, () => stream({ max_tokens: 200, ignore_eos: true, temperature: 0 })));
        assert.ok(
            outcomes.every((o) => o.finish === "length" && o.error === null),
            JSON.stringify(outcomes)
        );
        const predicted = [(await a.metric("llamacpp:tokens_predicted_total")) - before[0]!, (await b.metric("llamacpp:tokens_predicted_total")) - before[1]!];
        assert.deepEqual(predicted, [800, 800], "four 200-token requests on each server");
    });

    it("a client that disconnects stops the upstream's generation", async (t) => {
        const predictedBefore = (await a.metric("llamacpp:tokens_predicted_total")) + (await b.metric("llamacpp:tokens_predicted_total"));
        const abort = new AbortController();
        const res = await post("/v1/generate", { model: "stories", prompt: "Once upon a time", stream: true, max_tokens: 4000, ignore_eos: true }, abort.signal);
        const reader = res.body!.getReader();
        for (let i = 0; i < 3; i++) await reader.read();
        const busy = (await a.metric("llamacpp:requests_processing")) + (await b.metric("llamacpp:requests_processing"));
        assert.equal(busy, 1, "the stream is generating upstream while the client reads");
        abort.abort();
        let processing = -1;
        for (let i = 0; i < 20; i++) {
            await sleep(100);
            processing = (await a.metric("llamacpp:requests_processing")) + (await b.metric("llamacpp:requests_processing"));
            if (processing === 0) break;
        }
        assert.equal(processing, 0, "no upstream request left generating");
        const predicted = (await a.metric("llamacpp:tokens_predicted_total")) + (await b.metric("llamacpp:tokens_predicted_total")) - predictedBefore;
        t.diagnostic(`the upstream generated ${predicted} of the 4000 tokens asked for before the disconnect stopped it`);
        assert.ok(predicted < 2_000, `stopped well before 4000 tokens (${predicted} generated)`);
    });

    it("kill -9 of one server mid-load: streams on it end with an in-band error, requests without a first token succeed on the other; health ejects and re-admits it", async (t) => {
        // 12 long streams, 6 on each server: 2 decoding in its slots and 4 waiting in its own queue.
        const pending = Array.from({ length: 12 }, () => stream({ max_tokens: 800, ignore_eos: true }));
        await sleep(300);
        await a.kill();
        // Requests sent after the kill, before the health check noticed, fail over too.
        const late = Array.from({ length: 4 }, () => stream({ max_tokens: 20, ignore_eos: true }));
        const outcomes = await Promise.all([...pending, ...late]);
        const broken = outcomes.filter((o) => o.error !== null);
        const succeeded = outcomes.filter((o) => o.error === null && o.finish === "length");
        assert.equal(broken.length + succeeded.length, outcomes.length, JSON.stringify(outcomes.map((o) => ({ ...o, text: o.text.length }))));
        assert.ok(
            broken.length >= 1 && broken.length <= 2,
            `only the streams decoding on the killed server break: ${JSON.stringify(broken.map((o) => ({ ...o, text: o.text.length })))}`
        );
        for (const o of broken) {
            assert.equal(o.status, 200, "the error came in-band, after the headers");
            assert.ok(o.text.length > 0, "it had streamed text before the kill");
            assert.match(o.error!, /upstream pool 'pool'/);
        }
        await waitForHealth(1);
        await a.restart();
        const readmittedAfterMs = await waitForHealth(2);
        assert.ok(readmittedAfterMs < 5_000);
        t.diagnostic(`${broken.length} streams broke in-band, ${succeeded.length} of ${outcomes.length} succeeded; re-admitted ${readmittedAfterMs} ms after the restart`);
        const beforeA = await a.metric("llamacpp:tokens_predicted_total");
        const again = await Promise.all(Array.from({ length: 4 }, () => stream({ max_tokens: 10, ignore_eos: true })));
        assert.ok(again.every((o) => o.error === null));
        assert.ok((await a.metric("llamacpp:tokens_predicted_total")) - beforeA >= 10, "the restarted server takes requests again");
    });
});
