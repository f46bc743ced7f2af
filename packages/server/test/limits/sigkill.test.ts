import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { MemoryLimitStore } from "../../src/limits/MemoryLimitStore.js";
import { spawnFixture } from "./childProcess.js";

describe("daily count survives kill -9", () => {
    for (const kind of ["memory", "sqlite"] as const) {
        it(`${kind} store: the count after SIGKILL is every acknowledged admission, at most one more`, async () => {
            const dir = mkdtempSync(join(tmpdir(), "quandex-limits-"));
            const file = join(dir, "quandex.db");
            const child = spawnFixture("admitLoop.ts", [file, kind]);
            try {
                let stdout = "";
                let stderr = "";
                child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
                child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
                const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
                // Let it run until it has acknowledged a few hundred admissions, then kill it mid-loop.
                const deadline = Date.now() + 20_000;
                while (stdout.split("\n").length < 500) {
                    assert.ok(Date.now() < deadline && child.exitCode === null, `child did not get going: ${stderr}`);
                    await new Promise((resolve) => setTimeout(resolve, 5));
                }
                child.kill("SIGKILL");
                await closed; // all piped output read
                const lines = stdout.split("\n");
                lines.pop(); // the part after the last newline is not a whole acknowledgement
                const acknowledged = Number(lines.at(-1));
                assert.ok(acknowledged >= 400, `acknowledged ${acknowledged}`);

                const db = new Database(file);
                const store = new MemoryLimitStore({ db });
                const { used } = await store.peekDaily("victim", { rps: 10, burst: 20, daily: null, unlimited: false });
                db.close();
                assert.ok(used >= acknowledged && used <= acknowledged + 1, `persisted ${used}, acknowledged ${acknowledged}`);
            } finally {
                child.kill("SIGKILL");
                rmSync(dir, { recursive: true, force: true });
            }
        });
    }
});
