import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { bundledLlamaCppSource, LlamaServerEngine } from "@quandex/engine";
import { goldenText, llamaServerForTests, requireTestModel } from "@quandex/test-support";
import { ConfigError } from "../src/config/ConfigError.js";
import { loadConfig } from "../src/config/loadConfig.js";
import { engineContract } from "./contract/engineContract.js";
import { auth, createHarness, type Harness } from "./support/harness.js";
import { startServerProcess } from "./support/serverProcess.js";

// The contract every engine passes, run against llama-server children (skipped, with the reason
// printed, where no llama-server is built: scripts/build-engine.sh builds one).
const { binaryPath, skipReason } = llamaServerForTests();
const model = requireTestModel();
const make = async (): Promise<Harness> =>
    createHarness({ engine: await LlamaServerEngine.create({ binaryPath: binaryPath! }), files: { "stories260K.gguf": model }, maxQueue: 3, defaults: { contextSize: 4096 } });

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

    it("defaults to auto, and resolves engine.path against the config file", () => {
        assert.deepEqual(loadConfig({ env: {}, home: "/h" }).engine, { type: "auto", gpu: "auto", path: null, build: "auto", watchdogTimeoutMs: 15_000 });
        const file = configFile("engine:\n  type: llama-server\n  path: bin/llama-server\n  gpu: false\n");
        assert.deepEqual(loadConfig({ env: { QUANDEX_CONFIG: file }, home: "/h" }).engine, {
            type: "llama-server",
            gpu: false,
            path: path.join(path.dirname(file), "bin/llama-server"),
            build: "auto",
            watchdogTimeoutMs: 15_000
        });
    });

    it("defaults engine.path to where `quandex engine build` installs", () => {
        const home = tmp();
        const file = configFile("engine: {type: llama-server}\n");
        assert.equal(loadConfig({ env: { QUANDEX_CONFIG: file }, home }).engine.path, path.join(home, "engines", bundledLlamaCppSource().release, "cpu", "bin", "llama-server"));
    });

    it("refuses a path for the in-process engine, and unknown engine types", () => {
        const withPath = configFile("engine: {type: node-llama-cpp, path: /x}\n");
        assert.throws(
            () => loadConfig({ env: { QUANDEX_CONFIG: withPath }, home: "/h" }),
            (e: unknown) => e instanceof ConfigError && e.key === "engine.path"
        );
        const unknown = configFile("engine: {type: vllm}\n");
        assert.throws(
            () => loadConfig({ env: { QUANDEX_CONFIG: unknown }, home: "/h" }),
            (e: unknown) => e instanceof ConfigError && e.key.startsWith("engine")
        );
    });

    it("refuses at startup a binary it cannot drive, saying what to do", async () => {
        const missing = configFile("engine: {type: llama-server, path: /nonexistent/llama-server}\n");
        await assert.rejects(
            startServerProcess(["--config", missing, "--data-dir", tmp(), "--models-dir", tmp()]),
            /llama-server not found or not executable at \/nonexistent\/llama-server.*quandex engine build/
        );
        const notServer = configFile("engine: {type: llama-server, path: /bin/true}\n");
        await assert.rejects(startServerProcess(["--config", notServer, "--data-dir", tmp(), "--models-dir", tmp()]), /\/bin\/true is not a llama\.cpp server/);
    });

    it("auto serves on the built llama-server when there is one, else in-process, and says why", { skip: skipReason }, async () => {
        const { chooseEngine } = await import("../src/chooseEngine.js");
        const logger = { info() {}, warn() {}, error() {}, debug() {} };
        const emptyHome = tmp();
        const savedPath = process.env.PATH;
        try {
            // No binary anywhere: in-process, with the reason.
            process.env.PATH = tmp();
            const fallback = await chooseEngine({ engine: { type: "auto", gpu: false, path: null, build: "auto" }, home: emptyHome }, logger);
            assert.equal(fallback.engine.info().name, "node-llama-cpp");
            assert.match(fallback.reason, /no llama-server binary is built or on PATH; serving in-process/);
            await fallback.engine.dispose();
            // A configured binary that cannot serve does not stop an auto boot.
            const unusable = await chooseEngine({ engine: { type: "auto", gpu: false, path: "/bin/true", build: "auto" }, home: emptyHome }, logger);
            assert.equal(unusable.engine.info().name, "node-llama-cpp");
            assert.match(unusable.reason, /no usable llama-server \(\/bin\/true: /);
            await unusable.engine.dispose();
            // The one a build installed, or on PATH.
            process.env.PATH = path.dirname(binaryPath!);
            const found = await chooseEngine({ engine: { type: "auto", gpu: false, path: null, build: "auto" }, home: emptyHome }, logger);
            assert.equal(found.engine.info().name, "llama-server");
            assert.match(found.reason, /found a usable llama-server/);
            await found.engine.dispose();
        } finally {
            process.env.PATH = savedPath;
        }
    });
});
