import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { llamaServerForTests, requireTestModel } from "@quandex/test-support";
import { parseSse } from "./support/harness.js";
import { runCli, startServerProcess, type ServerProcess } from "./support/serverProcess.js";

// Crash isolation of the llama-server engine, against a real `quandex serve` process: a child
// killed mid-request, a child that exits while loading, and Quandex itself killed with SIGKILL.
const { binaryPath, skipReason } = llamaServerForTests();
const model = requireTestModel();
const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), "qdx-ls-crash-"));

/** Every process below `pid` (Linux /proc), depth first. */
function descendants(pid: number): number[] {
    let children: number[] = [];
    try {
        children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
        return [];
    }
    return children.flatMap((child) => [child, ...descendants(child)]);
}

function commandLine(pid: number): string[] {
    try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
        return [];
    }
}

function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
    } catch {
        return false;
    }
}

/** The llama-server child serving a model file (not its watchdog), with the port it listens on. */
function childFor(serverPid: number, modelFile: string): { pid: number; port: number } | undefined {
    for (const pid of descendants(serverPid)) {
        const argv = commandLine(pid);
        if (!argv[0]?.endsWith("llama-server") || !argv.includes(modelFile)) continue;
        return { pid, port: Number(argv[argv.indexOf("--port") + 1]) };
    }
    return undefined;
}

/** A copy of the model with an architecture llama.cpp does not know: the child exits while loading it. */
function writeUnknownArchitecture(file: string): void {
    const buf = Buffer.from(readFileSync(model));
    const key = Buffer.from("general.architecture");
    const at = buf.indexOf(key);
    const length = Number(buf.readBigUInt64LE(at + key.length + 4));
    buf.write("x".repeat(length), at + key.length + 12, "latin1");
    writeFileSync(file, buf);
}

describe("llama-server engine: crash isolation in a real quandex serve", { skip: skipReason }, () => {
    let server: ServerProcess;
    let key: string;
    let modelsDir: string;
    const call = (p: string, init: RequestInit = {}) =>
        fetch(`${server.url}${p}`, { ...init, headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...init.headers } });
    const generate = (body: object) => call("/v1/generate", { method: "POST", body: JSON.stringify(body) });
    const modelEntry = async (id: string) => (await (await call(`/v1/models/${id}`)).json()) as { status: string; error: string | null };

    before(async () => {
        modelsDir = tmp();
        const dataDir = tmp();
        copyFileSync(model, path.join(modelsDir, "story.gguf"));
        copyFileSync(model, path.join(modelsDir, "story2.gguf"));
        writeUnknownArchitecture(path.join(modelsDir, "bad-arch.gguf"));
        const config = path.join(tmp(), "quandex.yaml");
        writeFileSync(
            config,
            [
                "server:",
                // This test polls; rate limits are not what it is about.
                "  limits: {default_rps: 10000, default_burst: 10000, default_daily: null}",
                "engine:",
                "  type: llama-server",
                `  path: ${binaryPath}`,
                // A long context, so a 4000-token generation outlasts the kill that should interrupt it.
                "model_defaults: {context_size: 4096, parallel: 2, threads: 1}",
                ""
            ].join("\n")
        );
        const created = await runCli(["keys", "create", "--name", "t", "--scopes", "generate,read,admin", "--json", "--data-dir", dataDir]);
        assert.equal(created.code, 0, created.stderr);
        key = (JSON.parse(created.stdout) as { key: string }).key;
        server = await startServerProcess(["--config", config, "--models-dir", modelsDir, "--data-dir", dataDir]);
    });
    after(async () => {
        await server?.stop("SIGKILL");
    });

    it("ends a stream with event: error when its child is killed, stays up, and restarts the model after the backoff", async () => {
        const res = await generate({ model: "story", prompt: "Once upon a time", max_tokens: 4000, ignore_eos: true, stream: true });
        assert.equal(res.status, 200);
        const child = childFor(server.child.pid!, path.join(modelsDir, "story.gguf"));
        assert.ok(child, "the model runs in a llama-server child");
        const reader = res.body!.getReader();
        let body = new TextDecoder().decode((await reader.read()).value);
        process.kill(child.pid, "SIGKILL");
        const started = Date.now();
        for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            body += new TextDecoder().decode(value);
        }
        assert.ok(Date.now() - started < 10_000, "no hang");
        const events = parseSse(body).filter((e) => !e.comment);
        const last = events.at(-1)!;
        assert.equal(last.event, "error", body.slice(-500));
        const error = (last.data as { error: { code: string; message: string } }).error;
        assert.equal(error.code, "model_unavailable");
        assert.match(error.message, /SIGKILL/);
        assert.ok(!events.some((e) => e.data === "[DONE]"));

        const entry = await modelEntry("story");
        assert.equal(entry.status, "error");
        assert.match(entry.error ?? "", /SIGKILL/);
        const during = await generate({ model: "story", prompt: "Once", max_tokens: 5 });
        assert.equal(during.status, 503);
        assert.ok(Number(during.headers.get("retry-after")) >= 1);
        assert.equal(((await during.json()) as { error: { code: string } }).error.code, "model_unavailable");
        assert.equal((await fetch(`${server.url}/health`)).status, 200, "the API server did not go down with it");

        await sleep(1100);
        const again = await generate({ model: "story", prompt: "Once upon a time", temperature: 0, max_tokens: 5 });
        assert.equal(again.status, 200, await again.clone().text());
        assert.equal(((await again.json()) as { choices: Array<{ text: string }> }).choices[0]!.text, ", there was a little");
        const restarted = childFor(server.child.pid!, path.join(modelsDir, "story.gguf"));
        assert.ok(restarted && restarted.pid !== child.pid);
        assert.equal((await modelEntry("story")).status, "ready");
    });

    it("answers 503 before headers when the child dies during a non-streamed request", async () => {
        const pending = generate({ model: "story2", prompt: "Once upon a time", max_tokens: 4000, ignore_eos: true });
        // The request loads the model first; wait until it is ready and the child is decoding for it.
        for (let i = 0; i < 1000 && (await modelEntry("story2")).status !== "ready"; i++) await sleep(5);
        const child = childFor(server.child.pid!, path.join(modelsDir, "story2.gguf"));
        assert.ok(child);
        for (let i = 0; i < 500; i++) {
            const slots = await fetch(`http://127.0.0.1:${child.port}/slots`).then(
                (r) => r.json() as Promise<Array<{ is_processing: boolean }>>,
                () => []
            );
            if (Array.isArray(slots) && slots.some((s) => s.is_processing)) break;
            await sleep(2);
        }
        process.kill(child.pid, "SIGKILL");
        const res = await pending;
        assert.equal(res.status, 503);
        const body = (await res.json()) as { error: { code: string; message: string } };
        assert.equal(body.error.code, "model_unavailable");
        assert.match(body.error.message, /SIGKILL/);
    });

    it("reports a model whose child exits at load as error with llama.cpp's reason", async () => {
        const res = await generate({ model: "bad-arch", prompt: "Once", max_tokens: 5 });
        assert.equal(res.status, 503);
        const body = (await res.json()) as { error: { code: string; message: string } };
        assert.equal(body.error.code, "model_unavailable");
        assert.match(body.error.message, /exited with code \d+/);
        const entry = await modelEntry("bad-arch");
        assert.equal(entry.status, "error");
        assert.match(entry.error ?? "", /architecture|load/i);
        assert.equal((await generate({ model: "story", prompt: "Once", max_tokens: 2 })).status, 200, "other models keep working");
    });

    it("leaves no llama-server behind when quandex is killed with SIGKILL", async () => {
        await sleep(1100);
        for (const id of ["story", "story2"]) assert.equal((await generate({ model: id, prompt: "Once", max_tokens: 2 })).status, 200);
        const tree = descendants(server.child.pid!);
        const servers = tree.filter((pid) => commandLine(pid)[0]?.endsWith("llama-server"));
        assert.equal(servers.length, 2, `two llama-server children: ${tree.map((p) => commandLine(p).join(" ")).join("\n")}`);
        await server.stop("SIGKILL");
        let alive = tree;
        for (let i = 0; i < 100 && alive.length > 0; i++) {
            await sleep(50);
            alive = tree.filter(isAlive);
        }
        assert.deepEqual(
            alive.map((pid) => commandLine(pid).join(" ")),
            [],
            "every child and watchdog exited"
        );
    });
});
