import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { ConfigError } from "../../src/config/ConfigError.js";
import { loadConfig } from "../../src/config/loadConfig.js";
import { createLogger, resolveLogFormat } from "../../src/observability/createLogger.js";

const file = (content: string): string => {
    const p = path.join(mkdtempSync(path.join(os.tmpdir(), "qdx-obs-cfg-")), "quandex.yaml");
    writeFileSync(p, content);
    return p;
};
const rejects = (run: () => unknown, key: string) =>
    assert.throws(run, (e: unknown) => e instanceof ConfigError && e.key === key && e.message.includes(key), `expected a ConfigError naming ${key}`);

describe("observability settings", () => {
    it("server.metrics: enabled behind a key by default; auth none or off from the file; bad values stop the boot", () => {
        assert.deepEqual(loadConfig({ env: {}, home: "/h" }).metrics, { enabled: true, auth: "key" });
        assert.deepEqual(loadConfig({ env: { QUANDEX_CONFIG: file("server:\n  metrics:\n    auth: none\n") }, home: "/h" }).metrics, { enabled: true, auth: "none" });
        assert.deepEqual(loadConfig({ env: { QUANDEX_CONFIG: file("server:\n  metrics:\n    enabled: false\n") }, home: "/h" }).metrics, { enabled: false, auth: "key" });
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: file("server:\n  metrics:\n    auth: basic\n") }, home: "/h" }), "server.metrics.auth");
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: file("server:\n  metrics:\n    path: /m\n") }, home: "/h" }), "server.metrics.path");
    });

    it("server.log_prompts: off unless set true", () => {
        assert.equal(loadConfig({ env: {}, home: "/h" }).logPrompts, false);
        assert.equal(loadConfig({ env: { QUANDEX_CONFIG: file("server:\n  log_prompts: true\n") }, home: "/h" }).logPrompts, true);
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: file("server:\n  log_prompts: yes please\n") }, home: "/h" }), "server.log_prompts");
    });

    it("log format: flag > QUANDEX_LOG_FORMAT > file > auto; anything else stops the boot naming where it came from", () => {
        const cfg = file("server:\n  log_format: pretty\n");
        assert.equal(loadConfig({ env: {}, home: "/h" }).logFormat, "auto");
        assert.equal(loadConfig({ env: { QUANDEX_CONFIG: cfg }, home: "/h" }).logFormat, "pretty");
        assert.equal(loadConfig({ env: { QUANDEX_CONFIG: cfg, QUANDEX_LOG_FORMAT: "json" }, home: "/h" }).logFormat, "json");
        assert.equal(loadConfig({ env: { QUANDEX_CONFIG: cfg, QUANDEX_LOG_FORMAT: "json" }, flags: { logFormat: "pretty" }, home: "/h" }).logFormat, "pretty");
        rejects(() => loadConfig({ env: {}, flags: { logFormat: "xml" }, home: "/h" }), "--log-format");
        rejects(() => loadConfig({ env: { QUANDEX_LOG_FORMAT: "xml" }, home: "/h" }), "QUANDEX_LOG_FORMAT");
        rejects(() => loadConfig({ env: { QUANDEX_CONFIG: file("server:\n  log_format: xml\n") }, home: "/h" }), "server.log_format");
    });

    it("auto is pretty on a TTY and JSON otherwise; each format writes what it says", async () => {
        assert.equal(resolveLogFormat("auto", { isTTY: true }), "pretty");
        assert.equal(resolveLogFormat("auto", { isTTY: false }), "json");
        assert.equal(resolveLogFormat("json", { isTTY: true }), "json");
        const capture = async (format: "pretty" | "json"): Promise<string> => {
            const out = new PassThrough();
            let text = "";
            out.on("data", (d: Buffer) => (text += d.toString()));
            createLogger({ level: "info", format, destination: out }).info({ request_id: "req_1", status: 200 }, "request");
            await new Promise((r) => setImmediate(r));
            return text;
        };
        const json = JSON.parse(await capture("json")) as Record<string, unknown>;
        assert.equal(json.msg, "request");
        assert.equal(json.request_id, "req_1");
        const pretty = await capture("pretty");
        assert.throws(() => JSON.parse(pretty));
        assert.match(pretty, /INFO.*request/);
        assert.match(pretty, /request_id: "req_1"/);
    });
});
