import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { goldenText, requireTestModel, writeBrokenModels } from "@quandex/test-support";
import { parseSse } from "./support/harness.js";
import { runCli, startServerProcess, type ServerProcess } from "./support/serverProcess.js";

const model = requireTestModel();
const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), "qdx-cli-"));

async function createKey(dataDir: string, scopes = "generate,read,admin"): Promise<{ id: string; key: string; scopes: string[]; name: string }> {
    const res = await runCli(["keys", "create", "--name", "t", "--scopes", scopes, "--json", "--data-dir", dataDir]);
    assert.equal(res.code, 0, res.stderr);
    return JSON.parse(res.stdout) as { id: string; key: string; scopes: string[]; name: string };
}

describe("quandex engine", () => {
    it("engine build --for node-llama-cpp runs node-llama-cpp's offline source build (shown by --dry-run)", async () => {
        const cpu = await runCli(["engine", "build", "--for", "node-llama-cpp", "--dry-run", "--json"]);
        assert.equal(cpu.code, 0, cpu.stderr);
        const plan = JSON.parse(cpu.stdout) as { command: string[]; variant: string; release: string };
        assert.equal(plan.variant, "cpu");
        assert.match(plan.command[1]!, /node-llama-cpp[\\/]dist[\\/]cli[\\/]cli\.js$/);
        assert.deepEqual(plan.command.slice(2), ["source", "download", "--release", plan.release, "--gpu", "false", "--noUsageExample"]);
        const cuda = JSON.parse((await runCli(["engine", "build", "--for", "node-llama-cpp", "--gpu", "cuda", "--dry-run", "--json"])).stdout) as { command: string[] };
        assert.equal(cuda.command[cuda.command.indexOf("--gpu") + 1], "cuda");
        const wrong = await runCli(["engine", "build", "--for", "ollama"]);
        assert.notEqual(wrong.code, 0);
        assert.match(wrong.stderr, /llama-server or node-llama-cpp/);
        const jobs = await runCli(["engine", "build", "--for", "node-llama-cpp", "--jobs", "2", "--dry-run"]);
        assert.notEqual(jobs.code, 0);
        assert.match(jobs.stderr, /--jobs and --keep-build-dir apply to the llama-server build only/);
    });
});

describe("quandex keys", () => {
    it("creates a key printed once, stores only its hash, lists and revokes it", async () => {
        const dataDir = tmp();
        const created = await createKey(dataDir, "generate");
        assert.match(created.key, /^qdx_[A-Za-z0-9_-]{43}$/);
        assert.deepEqual(created.scopes, ["generate"]);
        const plainDefault = JSON.parse((await runCli(["keys", "create", "--name", "d", "--json", "--data-dir", dataDir])).stdout) as { scopes: string[] };
        assert.deepEqual(plainDefault.scopes, ["generate", "read"], "default scopes");
        for (const f of readdirSync(dataDir)) {
            assert.ok(!readFileSync(path.join(dataDir, f)).includes(created.key), `plain key found in ${f}`);
        }
        const listed = JSON.parse((await runCli(["keys", "list", "--json", "--data-dir", dataDir])).stdout) as Array<{ id: string; revoked_at: string | null; key?: string }>;
        assert.equal(listed.length, 2);
        assert.ok(
            listed.every((k) => k.key === undefined),
            "list never shows secrets"
        );
        assert.equal((await runCli(["keys", "revoke", created.id, "--data-dir", dataDir])).code, 0);
        const after = JSON.parse((await runCli(["keys", "list", "--json", "--data-dir", dataDir])).stdout) as Array<{ id: string; revoked_at: string | null }>;
        assert.ok(after.find((k) => k.id === created.id)!.revoked_at);
        const missing = await runCli(["keys", "revoke", "key_nope", "--data-dir", dataDir]);
        assert.notEqual(missing.code, 0);
        assert.match(missing.stderr, /no key with id/);
    });

    it("rejects unknown scopes with a clear message", async () => {
        const res = await runCli(["keys", "create", "--name", "x", "--scopes", "generate,root", "--data-dir", tmp()]);
        assert.notEqual(res.code, 0);
        assert.match(res.stderr, /unknown scope 'root'/);
    });
});

describe("quandex serve", () => {
    it("stops the boot on a bad config, naming the key", async () => {
        const cfg = path.join(tmp(), "q.yaml");
        writeFileSync(cfg, "server:\n  max_queue: -3\n");
        await assert.rejects(startServerProcess(["--config", cfg, "--data-dir", tmp(), "--models-dir", tmp()]), /server\.max_queue/);
        const collide = path.join(tmp(), "c.yaml");
        const models = tmp();
        copyFileSync(model, path.join(models, "other.gguf"));
        writeFileSync(collide, `models:\n  - id: a\n    path: ${model}\n    aliases: [other]\n`);
        await assert.rejects(startServerProcess(["--config", collide, "--data-dir", tmp(), "--models-dir", models]), /models\[0\]\.aliases\[0\].*other/);
    });

    describe("a real server with the real model beside three broken files", () => {
        let server: ServerProcess;
        let key: string;
        let dataDir: string;
        before(async () => {
            const models = tmp();
            dataDir = tmp();
            copyFileSync(model, path.join(models, "llama-3.2.gguf"));
            writeBrokenModels(model, models);
            key = (await createKey(dataDir)).key;
            server = await startServerProcess(["--models-dir", models, "--data-dir", dataDir]);
        });
        after(async () => {
            await server?.stop();
        });
        const call = (p: string, init: RequestInit = {}) =>
            fetch(`${server.url}${p}`, { ...init, headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...init.headers } });

        it("answers the reference's curl request, and the golden text at temperature 0", async () => {
            const ref = await call("/v1/generate", {
                method: "POST",
                body: JSON.stringify({ model: "llama-3.2", prompt: "Implement a sorting algorithm", temperature: 0.7, max_tokens: 1000, metal_optimize: true })
            });
            assert.equal(ref.status, 200);
            const body = (await ref.json()) as { model: string; choices: Array<{ text: string }>; metal_stats: { backend: string } };
            assert.equal(body.model, "llama-3.2");
            assert.equal(body.metal_stats.backend, "cpu");
            const golden = await call("/v1/generate", {
                method: "POST",
                body: JSON.stringify({ model: "llama-3.2", prompt: "Once upon a time", temperature: 0, max_tokens: 100 })
            });
            assert.equal(((await golden.json()) as { choices: Array<{ text: string }> }).choices[0]!.text, goldenText);
        });

        it("lists the three broken files in `error` while the good model serves", async () => {
            for (const id of ["corrupt", "truncated", "bad-offsets"]) {
                const res = await call("/v1/generate", { method: "POST", body: JSON.stringify({ model: id, prompt: "x", max_tokens: 2 }) });
                assert.equal(res.status, 503, id);
                assert.equal(((await res.json()) as { error: { code: string } }).error.code, "model_unavailable");
            }
            const list = (await (await call("/v1/models")).json()) as { models: Array<{ id: string; status: string; error: string | null }> };
            const byId = Object.fromEntries(list.models.map((m) => [m.id, m]));
            for (const id of ["corrupt", "truncated", "bad-offsets"]) {
                assert.equal(byId[id]!.status, "error", id);
                assert.ok((byId[id]!.error ?? "").length > 0, `${id} carries its message`);
            }
            assert.equal(byId["llama-3.2"]!.status, "ready");
            const again = await call("/v1/generate", { method: "POST", body: JSON.stringify({ model: "llama-3.2", prompt: "x", max_tokens: 2 }) });
            assert.equal(again.status, 200, "the server survived and keeps serving");
        });

        it("picks up a model file added while running", async () => {
            const list1 = (await (await call("/v1/models")).json()) as { models: Array<{ id: string }> };
            assert.ok(!list1.models.some((m) => m.id === "late"));
            const modelsDir = /"modelsDir":"([^"]+)"/.exec(server.output())![1]!;
            copyFileSync(model, path.join(modelsDir, "late.gguf"));
            const res = await call("/v1/generate", { method: "POST", body: JSON.stringify({ model: "late", prompt: "x", max_tokens: 2 }) });
            assert.equal(res.status, 200);
        });

        it("honours a key created and revoked by the CLI while it runs", async () => {
            const fresh = await createKey(dataDir, "read");
            const ok = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${fresh.key}` } });
            assert.equal(ok.status, 200);
            await runCli(["keys", "revoke", fresh.id, "--data-dir", dataDir]);
            const gone = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${fresh.key}` } });
            assert.equal(gone.status, 401);
        });
    });

    /** Starts a server, opens a long stream, sends SIGTERM after its first bytes, and returns the rest. */
    async function streamAcrossSigterm(config: string | null, maxTokens: number): Promise<{ text: string; exitCode: number | null }> {
        const models = tmp();
        const dataDir = tmp();
        copyFileSync(model, path.join(models, "m.gguf"));
        const args = ["--models-dir", models, "--data-dir", dataDir];
        if (config !== null) {
            const cfg = path.join(tmp(), "q.yaml");
            writeFileSync(cfg, config);
            args.push("--config", cfg);
        }
        const { key } = await createKey(dataDir);
        const server = await startServerProcess(args);
        const res = await fetch(`${server.url}/v1/generate`, {
            method: "POST",
            headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
            body: JSON.stringify({ model: "m", prompt: "Once upon a time", max_tokens: maxTokens, ignore_eos: true, stream: true })
        });
        const reader = res.body!.getReader();
        await reader.read();
        server.child.kill("SIGTERM");
        let text = "";
        for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            text += new TextDecoder().decode(value);
        }
        return { text, exitCode: await server.exited };
    }

    it("on SIGTERM, lets an in-flight stream finish within the grace period, then exits 0", async () => {
        const { text, exitCode } = await streamAcrossSigterm(null, 1500);
        assert.match(text, /data: \[DONE\]/);
        assert.equal(exitCode, 0);
    });

    it("past the grace period, a stream gets event: error server_shutdown and the process exits 0", async () => {
        const { text, exitCode } = await streamAcrossSigterm("server:\n  shutdown_grace: 0.2\nmodel_defaults:\n  context_size: 100000\n", 90000);
        const last = parseSse(text).at(-1)!;
        assert.equal(last.event, "error", text.slice(-300));
        assert.equal((last.data as { error: { code: string } }).error.code, "server_shutdown");
        assert.ok(!text.includes("[DONE]"));
        assert.equal(exitCode, 0);
    });
});
