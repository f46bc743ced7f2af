import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { ConfigError } from "../../src/config/ConfigError.js";
import { loadConfig } from "../../src/config/loadConfig.js";

// The keys that decide what faults cost: shutdown grace, Redis loss, slow readers, hung engines.
const file = (content: string): string => {
    const p = path.join(mkdtempSync(path.join(os.tmpdir(), "qdx-cfg-faults-")), "quandex.yaml");
    writeFileSync(p, content);
    return p;
};
const load = (content: string) => loadConfig({ env: { QUANDEX_CONFIG: file(content) }, home: "/h" });
const rejects = (content: string, key: string) =>
    assert.throws(
        () => load(content),
        (e: unknown) => e instanceof ConfigError && e.key === key && e.message.includes(key),
        `expected a ConfigError naming ${key}`
    );

describe("fault-handling config", () => {
    it("has the documented defaults", () => {
        const c = loadConfig({ env: {}, home: "/h" });
        assert.equal(c.shutdownGraceMs, 30_000);
        assert.equal(c.limits.redisUnavailable, "fail_closed");
        assert.equal(c.streamBufferLimitBytes, 1_048_576);
        assert.equal(c.idleTimeoutMs, 60_000);
        assert.equal(c.engine.watchdogTimeoutMs, 15_000);
    });

    it("reads each key from the file", () => {
        const c = load(
            "server:\n  shutdown_grace: 5\n  stream_buffer_limit: 65536\n  idle_timeout: 20\n  keep_alive_interval: 10\n  limits:\n    redis_unavailable: fail_open\nengine:\n  watchdog_timeout: 2.5\n"
        );
        assert.equal(c.shutdownGraceMs, 5_000);
        assert.equal(c.streamBufferLimitBytes, 65_536);
        assert.equal(c.idleTimeoutMs, 20_000);
        assert.equal(c.limits.redisUnavailable, "fail_open");
        assert.equal(c.engine.watchdogTimeoutMs, 2_500);
    });

    it("stops the boot on invalid values, naming the key", () => {
        rejects("server:\n  limits:\n    redis_unavailable: maybe\n", "server.limits.redis_unavailable");
        // The old boolean is gone; it must not be silently ignored.
        rejects("server:\n  limits:\n    fail_open: true\n", "server.limits.fail_open");
        rejects("server:\n  stream_buffer_limit: 100\n", "server.stream_buffer_limit");
        rejects("server:\n  stream_buffer_limit: 1.5\n", "server.stream_buffer_limit");
        rejects("server:\n  shutdown_grace: -1\n", "server.shutdown_grace");
        rejects("server:\n  idle_timeout: 0\n", "server.idle_timeout");
        rejects("engine:\n  watchdog_timeout: 0\n", "engine.watchdog_timeout");
    });
});
