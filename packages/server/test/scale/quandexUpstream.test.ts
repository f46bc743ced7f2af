import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { allowedSkip, requireTestModel } from "@quandex/test-support";
import { runCli, startServerProcess, type ServerProcess } from "../support/serverProcess.js";

// A Quandex as the upstream of another Quandex (the front one holds the keys and limits its users
// see; the back one its own): the API reference's Python example runs unchanged against the front.
const model = requireTestModel();
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const python = path.join(repoRoot, ".venv", "bin", "python");
const referenceDoc = path.join(repoRoot, "..", "shared", "spec", "quandex-api-reference.md");
const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), "qdx-chain-"));

async function createKey(dataDir: string, extra: string[] = []): Promise<string> {
    const res = await runCli(["keys", "create", "--name", "t", "--json", "--data-dir", dataDir, ...extra]);
    assert.equal(res.code, 0, res.stderr);
    return (JSON.parse(res.stdout) as { key: string }).key;
}

describe("a Quandex behind another Quandex", () => {
    let back: ServerProcess;
    let front: ServerProcess;
    let frontKey: string;
    let frontData: string;

    before(async () => {
        const backDir = tmp();
        mkdirSync(path.join(backDir, "models"));
        copyFileSync(model, path.join(backDir, "models", "stories.gguf"));
        const backKey = await createKey(path.join(backDir, "data"), ["--rps", "1000", "--burst", "1000", "--daily", "100000"]);
        back = await startServerProcess(["--models-dir", path.join(backDir, "models"), "--data-dir", path.join(backDir, "data")]);
        const frontDir = tmp();
        frontData = path.join(frontDir, "data");
        const config = path.join(frontDir, "quandex.yaml");
        writeFileSync(
            config,
            [
                "upstreams:",
                "  - name: back",
                "    type: openai",
                "    endpoints:",
                `      - url: ${back.url}`,
                "        api_key_env: BACK_QUANDEX_KEY",
                "    models:",
                "      - id: llama-3.2",
                "        upstream_model: stories",
                "        context_size: 2048",
                "    health_check: { interval: 0.5 }",
                ""
            ].join("\n")
        );
        frontKey = await createKey(frontData, ["--scopes", "generate,read"]);
        front = await startServerProcess(["--config", config, "--data-dir", frontData, "--models-dir", path.join(frontDir, "models")], { BACK_QUANDEX_KEY: backKey });
    });

    after(async () => {
        await front?.stop();
        await back?.stop();
    });

    it("runs the API reference's Python example unchanged against the front one", async (t) => {
        if (!existsSync(python)) return t.skip(allowedSkip(`no Python SDK venv at ${python} (scripts/python-sdk-setup.sh makes it)`));
        if (!existsSync(referenceDoc)) return t.skip(allowedSkip(`the API reference ${referenceDoc} is not beside the repo`));
        const example = /```python\n(from quandex import QuandexClient[\s\S]*?)```/.exec((await import("node:fs")).readFileSync(referenceDoc, "utf8"))![1]!;
        const script = path.join(tmp(), "example.py");
        // Only the key differs; the URL comes from QUANDEX_BASE_URL, as a deployment sets it.
        writeFileSync(script, example.replace('"your_api_key"', JSON.stringify(frontKey)));
        const runner = [
            "import ast, asyncio, sys",
            "source = open(sys.argv[1]).read()",
            "code = compile(source, '<reference example>', 'exec', flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)",
            "ns = {}",
            "async def main():",
            "    c = eval(code, ns)",
            "    if c is not None: await c",
            "    await ns['client'].close()",
            "    r = ns['response']",
            "    print('\\nRESULT', r.model, r.choices[0].finish_reason, r.usage.completion_tokens, r.metal_stats.backend)",
            "asyncio.run(main())"
        ].join("\n");
        for (let i = 0; i < 50; i++) {
            const listed = (await (await fetch(`${front.url}/v1/models/llama-3.2`, { headers: { authorization: `Bearer ${frontKey}` } })).json()) as {
                upstream?: { healthy: number };
            };
            if (listed.upstream?.healthy === 1) break;
            await sleep(100);
        }
        const run = spawnSync(python, ["-c", runner, script], { env: { ...process.env, QUANDEX_BASE_URL: `${front.url}/v1` }, encoding: "utf8", timeout: 120_000 });
        assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
        const result = /RESULT (\S+) (\S+) (\d+) (\S+)/.exec(run.stdout);
        assert.ok(result, run.stdout);
        assert.equal(result[1], "llama-3.2");
        assert.match(result[2]!, /^(stop|length)$/);
        assert.ok(Number(result[3]) > 0);
        assert.equal(result[4], "None", "the front cannot see what runs the model: null, not a guess");
        assert.match(run.stdout, /Memory usage: /);
    });

    it("a generation through the front is served by the back and counted on the front key", async () => {
        const res = await fetch(`${front.url}/v1/generate`, {
            method: "POST",
            headers: { authorization: `Bearer ${frontKey}`, "content-type": "application/json" },
            body: JSON.stringify({ model: "llama-3.2", prompt: "Once upon a time", max_tokens: 5, temperature: 0 })
        });
        assert.equal(res.status, 200, await res.clone().text());
        const body = (await res.json()) as { usage: { completion_tokens: number } };
        assert.equal(body.usage.completion_tokens, 5);
        const usage = (await (await fetch(`${front.url}/v1/usage`, { headers: { authorization: `Bearer ${frontKey}` } })).json()) as Record<string, unknown>;
        assert.match(JSON.stringify(usage), /"completion_tokens":\d+/);
    });
});
