import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { auditedConfig } from "../../src/observability/recordConfigChange.js";
import { ConfigError } from "../../src/config/ConfigError.js";
import { loadConfig } from "../../src/config/loadConfig.js";

const file = (content: string): string => {
    const p = path.join(mkdtempSync(path.join(os.tmpdir(), "qdx-upcfg-")), "quandex.yaml");
    writeFileSync(p, content);
    return p;
};
const rejects = (run: () => unknown, key: string, detail?: RegExp) =>
    assert.throws(run, (e: unknown) => e instanceof ConfigError && e.key === key && (!detail || detail.test(e.message)), `expected a ConfigError naming ${key}`);

const pool = (extra = "", endpoint = "      - url: http://gpu-1:8000\n        api_key_env: GPU_KEY\n        weight: 2\n      - url: https://gpu-2:8443\n"): string =>
    `upstreams:\n  - name: gpu\n    type: openai\n    endpoints:\n${endpoint}    models:\n      - id: llama\n        upstream_model: meta/llama\n${extra}`;

describe("upstreams: in the config", () => {
    it("parses pools with defaults, the key read from the environment", () => {
        const c = loadConfig({ env: { QUANDEX_CONFIG: file(pool("    health_check: { interval: 0.5 }\n    max_retries: 0\n")), GPU_KEY: "sk-1" }, home: "/h" });
        assert.equal(c.upstreams.length, 1);
        const p = c.upstreams[0]!;
        assert.deepEqual(p.endpoints, [
            { url: "http://gpu-1:8000", apiKey: "sk-1", weight: 2 },
            { url: "https://gpu-2:8443", apiKey: null, weight: 1 }
        ]);
        assert.deepEqual(p.models, [{ id: "llama", upstreamModel: "meta/llama", aliases: [], contextSize: 4096 }]);
        assert.deepEqual(p.healthCheck, { path: "/health", intervalMs: 500, timeoutMs: 2000 });
        assert.equal(p.maxRetries, 0);
        assert.equal(p.ejectAfter, 3);
        assert.deepEqual(loadConfig({ env: {}, home: "/h" }).upstreams, []);
    });

    it("keeps the upstream's key out of the audit log", () => {
        const c = loadConfig({ env: { QUANDEX_CONFIG: file(pool()), GPU_KEY: "sk-very-secret" }, home: "/h" });
        const audited = JSON.stringify(auditedConfig(c));
        assert.doesNotMatch(audited, /sk-very-secret/);
        assert.match(audited, /"apiKey":"\(set\)"/);
    });

    it("stops the boot on a missing key variable, credentials in a URL, a bad URL, a duplicate pool or a pool without models", () => {
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: file(pool()) }, home: "/h" }), "upstreams[0].endpoints[0].api_key_env", /GPU_KEY is not set/);
        rejects(
            () => loadConfig({ env: { QUANDEX_CONFIG: file(pool("", "      - url: http://user:pw@gpu-1:8000\n")) }, home: "/h" }),
            "upstreams[0].endpoints[0].url",
            /api_key_env/
        );
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: file(pool("", "      - url: ftp://gpu-1\n")) }, home: "/h" }), "upstreams[0].endpoints[0].url");
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: file(pool("", "      - url: http://gpu-1:8000/v1\n")) }, home: "/h" }), "upstreams[0].endpoints[0].url", /base URL/);
        const twice = pool("", "      - url: http://a:1\n") + pool("", "      - url: http://b:1\n").replace("upstreams:\n", "");
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: file(twice) }, home: "/h" }), "upstreams[1].name");
        rejects(
            () => loadConfig({ env: { QUANDEX_CONFIG: file("upstreams:\n  - name: gpu\n    type: openai\n    endpoints:\n      - url: http://a:1\n") }, home: "/h" }),
            "upstreams[0].models"
        );
        assert.throws(() => loadConfig({ env: { QUANDEX_CONFIG: file(pool("    retries: 2\n")), GPU_KEY: "k" }, home: "/h" }), ConfigError, "unknown keys stop the boot");
        assert.throws(() => loadConfig({ env: { QUANDEX_CONFIG: file(pool().replace("type: openai", "type: grpc")), GPU_KEY: "k" }, home: "/h" }), ConfigError);
    });
});
