import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { ConfigError } from "../src/config/ConfigError.js";
import { loadConfig } from "../src/config/loadConfig.js";

const dir = () => mkdtempSync(path.join(os.tmpdir(), "qdx-cfg-"));
const file = (content: string, name = "quandex.yaml"): string => {
    const p = path.join(dir(), name);
    writeFileSync(p, content);
    return p;
};
const rejects = (run: () => unknown, key: string) =>
    assert.throws(run, (e: unknown) => e instanceof ConfigError && e.key === key && e.message.includes(key), `expected a ConfigError naming ${key}`);

describe("loadConfig", () => {
    it("has documented defaults", () => {
        const c = loadConfig({ env: {}, home: "/h" });
        assert.equal(c.host, "127.0.0.1");
        assert.equal(c.port, 8000);
        assert.equal(c.modelsDir, "/h/models");
        assert.equal(c.dataDir, "/h/data");
        assert.equal(c.maxQueue, 64);
        assert.deepEqual(c.corsOrigins, []);
        assert.deepEqual(c.defaultScopes, ["generate", "read"]);
        assert.equal(c.modelDefaults.parallel, 4);
        assert.equal(c.modelDefaults.gpu, "auto");
    });

    it("engine: threads auto unless set; build auto or prebuilt, for node-llama-cpp only", () => {
        assert.equal(loadConfig({ env: {}, home: "/h" }).modelDefaults.threads, "auto");
        assert.equal(loadConfig({ env: {}, home: "/h" }).engine.build, "auto");
        assert.equal(loadConfig({ env: { QUANDEX_CONFIG: file("model_defaults:\n  threads: 3\n") }, home: "/h" }).modelDefaults.threads, 3);
        assert.equal(loadConfig({ env: { QUANDEX_CONFIG: file("engine:\n  build: prebuilt\n") }, home: "/h" }).engine.build, "prebuilt");
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: file("engine:\n  build: fast\n") }, home: "/h" }), "engine.build");
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: file("engine:\n  type: llama-server\n  path: /x/llama-server\n  build: prebuilt\n") }, home: "/h" }), "engine.build");
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: file("model_defaults:\n  threads: 0\n") }, home: "/h" }), "model_defaults.threads");
    });

    it("applies flag > env > file > default", () => {
        const cfg = file("server:\n  port: 7000\n  host: 0.0.0.0\n  max_queue: 5\n");
        const env = { QUANDEX_CONFIG: cfg, QUANDEX_PORT: "7100" };
        assert.equal(loadConfig({ env, home: "/h" }).port, 7100, "env beats file");
        assert.equal(loadConfig({ env, flags: { port: "7200" }, home: "/h" }).port, 7200, "flag beats env");
        assert.equal(loadConfig({ env: { QUANDEX_CONFIG: cfg }, home: "/h" }).port, 7000, "file beats default");
        assert.equal(loadConfig({ env, home: "/h" }).host, "0.0.0.0");
        assert.equal(loadConfig({ env, home: "/h" }).maxQueue, 5);
    });

    it("reads JSON too, and resolves model paths against the config file", () => {
        const cfg = file(JSON.stringify({ models: [{ id: "llama-3.2", path: "weights/a.gguf", aliases: ["l3"], parallel: 2, gpu: 10, preload: true }] }), "q.json");
        const c = loadConfig({ env: { QUANDEX_CONFIG: cfg }, home: "/h" });
        assert.equal(c.models[0]!.path, path.join(path.dirname(cfg), "weights/a.gguf"));
        assert.deepEqual(c.models[0]!.options, { parallel: 2, gpu: 10 });
        assert.equal(c.models[0]!.preload, true);
    });

    it("stops on invalid values, naming the key, and never falls back", () => {
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: file("server:\n  max_queue: lots\n") } }), "server.max_queue");
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: file("server:\n  porter: 1\n") } }), "server.porter");
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: file("models:\n  - id: a\n    path: a.gguf\n    parallel: 0\n") } }), "models[0].parallel");
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: file("models:\n  - id: a\n    path: a.gguf\n    gpu: maybe\n") } }), "models[0].gpu");
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: file("models:\n  - path: a.gguf\n") } }), "models[0].id");
        rejects(() => loadConfig({ env: { QUANDEX_PORT: "eighty" } }), "QUANDEX_PORT");
        rejects(() => loadConfig({ env: {}, flags: { port: "70000" } }), "--port");
        rejects(() => loadConfig({ env: { QUANDEX_LOG_LEVEL: "loud" } }), "QUANDEX_LOG_LEVEL");
        assert.throws(() => loadConfig({ env: { QUANDEX_CONFIG: file("server: [unclosed\n") } }), ConfigError);
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: "/nonexistent/q.yaml" } }), "--config");
    });
});
