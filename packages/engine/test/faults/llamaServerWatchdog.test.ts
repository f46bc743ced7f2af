import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { silentLogger } from "../../src/Logger.js";
import { LlamaServerProcess } from "../../src/llamaServer/LlamaServerProcess.js";

// The health watchdog of a llama-server child, on a stand-in binary that serves only `/health`
// (so it runs without a llama.cpp build; packages/server/test/faults/llamaServerHang.test.ts runs
// the real one): a child that stops answering is killed and its exit says "hung"; one that keeps
// answering is left alone.
const dir = mkdtempSync(path.join(os.tmpdir(), "qdx-watchdog-"));
const fakeServer = path.join(dir, "llama-server");
writeFileSync(
    fakeServer,
    [
        `#!${process.execPath}`,
        'const http = require("node:http");',
        'const port = Number(process.argv[process.argv.indexOf("--port") + 1]);',
        'http.createServer((req, res) => res.writeHead(200, { "content-type": "application/json" }).end(\'{"status":"ok"}\')).listen(port, "127.0.0.1");',
        ""
    ].join("\n")
);
chmodSync(fakeServer, 0o755);

const start = (watchdogTimeoutMs: number) =>
    LlamaServerProcess.start({ binaryPath: fakeServer, args: [], modelId: "m", logger: silentLogger, readyTimeoutMs: 20_000, watchdogTimeoutMs });

function waitForPid(server: LlamaServerProcess): Promise<number> {
    return (async () => {
        for (let i = 0; i < 200 && server.pid === null; i++) await sleep(10);
        assert.ok(server.pid !== null, "the watchdog shell reported the server's pid");
        return server.pid;
    })();
}

describe("llama-server health watchdog", () => {
    it("kills a child that stops answering (SIGSTOP) and says it hung", async () => {
        const server = await start(600);
        const pid = await waitForPid(server);
        const stoppedAt = Date.now();
        process.kill(pid, "SIGSTOP");
        const exit = await Promise.race([server.exited, sleep(10_000).then(() => null)]);
        try {
            assert.ok(exit, "the hung child was killed");
            assert.match(exit.reason, /stopped answering its health check for \d+ s \(hung\) and was killed/);
            const tookMs = Date.now() - stoppedAt;
            // The timeout plus one probe interval (150 ms here), with room for a loaded machine.
            assert.ok(tookMs >= 550 && tookMs < 5_000, `killed ${tookMs} ms after it hung`);
        } finally {
            if (!exit) {
                process.kill(pid, "SIGCONT");
                await server.stop();
            }
        }
    });

    it("leaves a child that answers alone, and stops probing once it is stopped", async () => {
        const server = await start(300);
        await sleep(1_500);
        assert.equal(server.exit, null, "still running after five timeouts' worth of probes");
        await server.stop();
        assert.equal((await server.exited).reason, "was stopped");
    });

    it("probes nothing with a timeout of 0", async () => {
        const server = await start(0);
        const pid = await waitForPid(server);
        process.kill(pid, "SIGSTOP");
        await sleep(800);
        assert.equal(server.exit, null);
        process.kill(pid, "SIGCONT");
        await server.stop();
    });
});
