import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { bundledLlamaCppSource, LlamaServerEngine } from "@quandex/engine";
import { ConfigError } from "../src/config/ConfigError.js";
import { loadConfig } from "../src/config/loadConfig.js";
import { llamaServerForTests } from "../../engine/test/support/llamaServerBinary.js";
import { goldenText, requireTestModel } from "../../engine/test/support/testModel.js";
import { engineContract } from "./contract/engineContract.js";
import { auth, createHarness, type Harness } from "./support/harness.js";
import { startServerProcess } from "./support/serverProcess.js";

// The contract every engine passes, run against llama-server children (skipped, with the reason
// printed, where no llama-server is built: scripts/build-engine.sh builds one).
const { binaryPath, skipReason } = llamaServerForTests();
const model = requireTestModel();
const make = async (): Promise<Harness> => createHarness({ engine: await LlamaServerEngine.create({ binaryPath: binaryPath! }), files: { "stories260K.gguf": model }, maxQueue: 3, defaults: { contextSize: 4096 } });

if (skipReason) describe("engine contract: llama-server on stories260K", { skip: skipReason }, () => undefined);
else engineContract("llama-server on stories260K", make, "stories260K");

describe("llama-server engine through the API", { skip: skipReason }, () => {
    let h: Harness;
    let url: string;
    before(async () => {
        h = await make();
        url = await h.listen();
    });
    after(async () => {
        await h?.close();
        await h?.engine.dispose();
    });

    it("answers the golden text at temperature 0, like the in-process engine", async () => {
        const res = await fetch(`${url}/v1/generate`, {
            method: "POST",
            headers: { ...auth(h.keys.generate), "content-type": "application/json" },
            body: JSON.stringify({ model: "stories260K", prompt: "Once upon a time", temperature: 0, max_tokens: 100 })
        });
        assert.equal(res.status, 200);
        const body = (await res.json()) as { choices: Array<{ text: string }>; usage: { prompt_tokens: number; completion_tokens: number }; metal_stats: { backend: string } };
        assert.equal(body.choices[0]!.text, goldenText);
        assert.deepEqual(body.usage, { prompt_tokens: 5, completion_tokens: 100, total_tokens: 105 });
        assert.equal(body.metal_stats.backend, h.engine.info().backend);
    });

    it("names itself in /v1/stats", async () => {
        const stats = (await (await fetch(`${url}/v1/stats`, { headers: auth(h.keys.read) })).json()) as { engine: { name: string; version: string } };
        assert.equal(stats.engine.name, "llama-server");
        assert.ok(stats.engine.version.length > 0);
    });
});

describe("choosing the llama-server engine in the config", () => {
    const tmp = () => mkdtempSync(path.join(os.tmpdir(), "qdx-ls-cfg-"));
    const configFile = (content: string): string => {
        const file = path.join(tmp(), "quandex.yaml");
        writeFileSync(file, content);
        return file;
    };

    it("defaults to node-llama-cpp, and resolves engine.path against the config file", () => {
        assert.deepEqual(loadConfig({ env: {}, home: "/h" }).engine, { type: "node-llama-cpp", gpu: "auto", path: null, build: "auto" });
        const file = configFile("engine:\n  type: llama-server\n  path: bin/llama-server\n  gpu: false\n");
        assert.deepEqual(loadConfig({ env: { QUANDEX_CONFIG: file }, home: "/h" }).engine, {
            type: "llama-server",
            gpu: false,
            path: path.join(path.dirname(file), "bin/llama-server"),
            build: "auto"
        });
    });

    it("defaults engine.path to where `quandex engine build` installs", () => {
        const home = tmp();
        const file = configFile("engine: {type: llama-server}\n");
        assert.equal(loadConfig({ env: { QUANDEX_CONFIG: file }, home }).engine.path, path.join(home, "engines", bundledLlamaCppSource().release, "cpu", "bin", "llama-server"));
    });

    it("refuses a path for the in-process engine, and unknown engine types", () => {
        const withPath = configFile("engine: {type: node-llama-cpp, path: /x}\n");
        assert.throws(() => loadConfig({ env: { QUANDEX_CONFIG: withPath }, home: "/h" }), (e: unknown) => e instanceof ConfigError && e.key === "engine.path");
        const unknown = configFile("engine: {type: vllm}\n");
        assert.throws(() => loadConfig({ env: { QUANDEX_CONFIG: unknown }, home: "/h" }), (e: unknown) => e instanceof ConfigError && e.key.startsWith("engine"));
    });

    it("refuses at startup a binary it cannot drive, saying what to do", async () => {
        const missing = configFile("engine: {type: llama-server, path: /nonexistent/llama-server}\n");
        await assert.rejects(startServerProcess(["--config", missing, "--data-dir", tmp(), "--models-dir", tmp()]), /llama-server not found or not executable at \/nonexistent\/llama-server.*quandex engine build/);
        const notServer = configFile("engine: {type: llama-server, path: /bin/true}\n");
        await assert.rejects(startServerProcess(["--config", notServer, "--data-dir", tmp(), "--models-dir", tmp()]), /\/bin\/true is not a llama\.cpp server/);
    });
});
