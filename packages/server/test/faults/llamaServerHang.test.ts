import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { LlamaServerEngine } from "@quandex/engine";
import { QuandexClient } from "@quandex/client";
import { llamaServerForTests, requireTestModel } from "@quandex/test-support";
import { auth, createHarness, parseSse, type Harness } from "../support/harness.js";

// A llama-server child that hangs (SIGSTOP: alive, silent) instead of dying: the engine's health
// watchdog must find it, kill it and let the scheduler start a fresh one; what was running or
// waiting on it is answered 503 model_unavailable (in-band for a started stream), which the SDK
// retries until the replacement answers.
const { binaryPath, skipReason } = llamaServerForTests();
const model = requireTestModel();
const watchdogTimeoutMs = 1_000;

/** Every process below `pid` (Linux /proc), depth first. */
function descendants(pid: number): number[] {
    let children: number[] = [];
    try {
        children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
        return [];
    }
    return children.flatMap((child) => [child, ...descendants(child)]);
}

/** The llama-server processes this test process runs (not their watchdog shells). */
function llamaServers(): number[] {
    return descendants(process.pid).filter((pid) => {
        try {
            return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]!.endsWith("llama-server");
        } catch {
            return false;
        }
    });
}

function isAlive(pid: number): boolean {
    try {
        return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
    } catch {
        return false;
    }
}

describe("llama-server engine: a hung child", { skip: skipReason }, () => {
    let h: Harness;
    let stopped: number | undefined;
    const generate = (body: object) =>
        fetch(`${h.url}/v1/generate`, { method: "POST", headers: { ...auth(h.keys.generate), "content-type": "application/json" }, body: JSON.stringify(body) });

    before(async () => {
        const engine = await LlamaServerEngine.create({ binaryPath: binaryPath!, gpu: false, watchdogTimeoutMs });
        h = await createHarness({ engine, files: { "story.gguf": model }, defaults: { contextSize: 4096, parallel: 2, threads: 1 } });
        await h.listen();
    });
    after(async () => {
        if (stopped !== undefined && isAlive(stopped)) process.kill(stopped, "SIGCONT");
        await h?.close();
        await h?.engine.dispose();
    });

    it("is killed by the watchdog and replaced; its requests get 503 model_unavailable and the SDK's retry succeeds", async () => {
        const warm = await generate({ model: "story", prompt: "Once upon a time", max_tokens: 4 });
        assert.equal(warm.status, 200, await warm.text());
        const [first] = llamaServers();
        assert.ok(first, "the model runs in a llama-server child");

        // A stream that is running when the child hangs.
        const streaming = await generate({ model: "story", prompt: "Once upon a time", max_tokens: 4000, ignore_eos: true, stream: true });
        assert.equal(streaming.status, 200);
        const reader = streaming.body!.getReader();
        let streamed = new TextDecoder().decode((await reader.read()).value);
        process.kill(first, "SIGSTOP");
        stopped = first;
        const hungAt = Date.now();

        const streamEnd = (async () => {
            for (;;) {
                const { done, value } = await reader.read();
                if (done) return streamed;
                streamed += new TextDecoder().decode(value);
            }
        })();
        // A request that arrives while the child is hung, without retries.
        const plain = generate({ model: "story", prompt: "Once upon a time", max_tokens: 8 });
        // The SDK's own retries (every 503 is retried, honouring Retry-After) carry it to the replacement.
        const client = new QuandexClient({ baseURL: `${h.url}/v1`, apiKey: h.keys.generate, maxRetries: 5 });
        const retried = client.generate({ model: "story", prompt: "Once upon a time", max_tokens: 8, temperature: 0 });

        const refused = await plain;
        const refusedMs = Date.now() - hungAt;
        assert.equal(refused.status, 503);
        const body = (await refused.json()) as { error: { code: string; message: string } };
        assert.equal(body.error.code, "model_unavailable");
        assert.match(body.error.message, /hung/);
        assert.ok(Number(refused.headers.get("retry-after")) >= 1, "Retry-After, so clients come back after the restart");
        // The watchdog's timeout plus its probe interval, with room for a loaded machine.
        assert.ok(refusedMs < watchdogTimeoutMs + 5_000, `answered ${refusedMs} ms after the hang`);
        process.stdout.write(`hung llama-server: the waiting request got 503 ${refusedMs} ms after SIGSTOP (watchdog_timeout ${watchdogTimeoutMs} ms)\n`);
        const listing = (await (await fetch(`${h.url}/v1/models/story`, { headers: auth(h.keys.read) })).json()) as { status: string; error: string | null };
        if (listing.status === "error") assert.match(listing.error ?? "", /hung/);

        const last = parseSse(await streamEnd)
            .filter((e) => !e.comment)
            .at(-1)!;
        assert.equal(last.event, "error");
        assert.equal((last.data as { error: { code: string } }).error.code, "model_unavailable");

        const result = await retried;
        assert.ok(result.choices[0]!.text.length > 0, "the retried request was served by the replacement");
        assert.equal(isAlive(first), false, "the hung child is gone");
        const [replacement] = llamaServers();
        assert.ok(replacement !== undefined && replacement !== first, "a fresh child serves the model");
        const again = await generate({ model: "story", prompt: "Once upon a time", max_tokens: 4 });
        assert.equal(again.status, 200);
    });

    it("a healthy child under load is never taken for hung", async () => {
        const [before] = llamaServers();
        // Longer than several watchdog timeouts of continuous decoding on both sequences.
        const started = Date.now();
        while (Date.now() - started < 4 * watchdogTimeoutMs) {
            const answers = await Promise.all([0, 1].map(() => generate({ model: "story", prompt: "Once upon a time", max_tokens: 1500, ignore_eos: true })));
            for (const answer of answers) assert.equal(answer.status, 200, await answer.text());
        }
        assert.deepEqual(llamaServers(), [before]);
    });
});
