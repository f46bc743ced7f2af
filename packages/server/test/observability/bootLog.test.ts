import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { it } from "node:test";
import { runCli, startServerProcess } from "../support/serverProcess.js";

/** Waits until `output()` matches, or fails naming what it saw. */
async function waitFor(output: () => string, pattern: RegExp): Promise<RegExpExecArray> {
    for (let i = 0; i < 100; i++) {
        const match = pattern.exec(output());
        if (match) return match;
        await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`no ${pattern} in:\n${output()}`);
}

it("a real server: JSON lines off a TTY, the open /metrics warned about at boot, config changes audited across restarts", { timeout: 120_000 }, async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "qdx-obs-boot-"));
    const modelsDir = path.join(root, "models");
    const dataDir = path.join(root, "data");
    mkdirSync(modelsDir);
    const configPath = path.join(root, "quandex.yaml");
    writeFileSync(configPath, "server:\n  metrics:\n    auth: none\n");
    const env = { QUANDEX_HOME: root };
    const created = await runCli(["keys", "create", "--data-dir", dataDir, "--name", "admin", "--scopes", "admin", "--unlimited", "--json"], env);
    assert.equal(created.code, 0, created.stderr);
    const adminKey = (JSON.parse(created.stdout) as { key: string }).key;

    let server = await startServerProcess(["--models-dir", modelsDir, "--data-dir", dataDir, "--config", configPath], env);
    try {
        await waitFor(server.output, /"level":40,[^\n]*GET \/metrics is open to anyone/);
        const open = await fetch(`${server.url}/metrics`, { headers: { "x-request-id": "from-the-client" } });
        assert.equal(open.status, 200);
        assert.match(await open.text(), /^# HELP /m);
        const id = open.headers.get("x-request-id")!;
        const line = JSON.parse((await waitFor(server.output, new RegExp(`^\\{[^\\n]*"request_id":"${id}"[^\\n]*\\}$`, "m")))[0]) as Record<string, unknown>;
        assert.equal(line.route, "/metrics");
        assert.equal(line.status, 200);
        assert.equal(line.client_request_id, "from-the-client");
        assert.ok(!server.output().includes(adminKey), "the key is never logged");
    } finally {
        assert.equal(await server.stop(), 0);
    }

    // Restarted with metrics behind a key: the change is in the audit log, with what changed.
    writeFileSync(configPath, "server:\n  metrics:\n    auth: key\n");
    server = await startServerProcess(["--models-dir", modelsDir, "--data-dir", dataDir, "--config", configPath], env);
    try {
        await waitFor(server.output, /GET \/metrics needs a key/);
        assert.equal((await fetch(`${server.url}/metrics`)).status, 401);
        const audit = (await (await fetch(`${server.url}/v1/admin/audit`, { headers: { authorization: `Bearer ${adminKey}` } })).json()) as {
            data: Array<{ action: string; actor: string; detail: { changed: string[] } }>;
        };
        const changes = audit.data.filter((e) => e.action === "config.changed");
        assert.equal(changes.length, 2, JSON.stringify(audit));
        assert.deepEqual(changes[0]!.detail.changed, ["metrics"]);
        assert.equal(changes[0]!.actor, "config");
    } finally {
        assert.equal(await server.stop(), 0);
    }
});
