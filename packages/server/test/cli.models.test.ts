import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { HuggingFaceFixture, requireTestModel } from "@quandex/test-support";
import { runCli, startServerProcess, type ServerProcess } from "./support/serverProcess.js";

const model = readFileSync(requireTestModel());
const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), "qdx-cli-"));

/** `quandex pull`, `ps` and `rm` against a real server that pulls from a local Hugging Face-layout server. */
describe("quandex pull, ps and rm", () => {
    const hub = new HuggingFaceFixture();
    let server: ServerProcess;
    let env: NodeJS.ProcessEnv;
    let modelsDir: string;

    before(async () => {
        hub.addRepo("tester", "stories-GGUF", [{ path: "stories260K-Q8_0.gguf", content: model }]);
        await hub.start();
        const dataDir = tmp();
        modelsDir = tmp();
        const key = await runCli(["keys", "create", "--name", "admin", "--scopes", "admin", "--unlimited", "--json", "--data-dir", dataDir]);
        assert.equal(key.code, 0, key.stderr);
        // HF_TOKEN in the server's environment: it must reach the hub and appear in no output.
        server = await startServerProcess(["--data-dir", dataDir, "--models-dir", modelsDir], { HF_ENDPOINT: hub.url, HF_TOKEN: "hf_very_secret" });
        env = { QUANDEX_API_KEY: (JSON.parse(key.stdout) as { key: string }).key, QUANDEX_BASE_URL: `${server.url}/v1` };
    });
    after(async () => {
        await server.stop();
        await hub.close();
    });

    it("pulls with plain progress lines when not on a terminal, then lists, shows and deletes the model", async () => {
        const pulled = await runCli(["pull", "hf:tester/stories-GGUF:Q8_0", "--as", "tiny"], env);
        assert.equal(pulled.code, 0, pulled.stderr);
        assert.match(pulled.stdout, /^pulled: tiny \(1\.1MB\) sha256:[0-9a-f]{64}\n$/);
        assert.match(pulled.stderr, /tiny: (downloading|verifying|ready)/);
        assert.ok(existsSync(path.join(modelsDir, "tiny.gguf")));
        assert.ok(
            hub.requests.some((r) => r.authorization === "Bearer hf_very_secret"),
            "the token reached the hub"
        );
        assert.ok(!server.output().includes("hf_very_secret"), "the token is never logged");

        const again = await runCli(["pull", "hf:tester/stories-GGUF:Q8_0", "--as", "tiny", "--json"], env);
        assert.equal(again.code, 0, again.stderr);
        assert.equal((JSON.parse(again.stdout) as { already_present: boolean }).already_present, true);

        const generated = await runCli(["generate", "Once upon a time", "--model", "tiny", "--max-tokens", "4"], env);
        assert.equal(generated.code, 0, generated.stderr);
        const ps = await runCli(["ps"], env);
        assert.equal(ps.code, 0, ps.stderr);
        assert.match(ps.stdout, /^ID\s+STATUS\s+MEMORY\s+BACKEND\s+BUSY\s+UNLOADS\n/);
        assert.match(ps.stdout, /\ntiny\s+ready\s+\S+\s+cpu\s+0\/\d+\s+in \d+m\d\ds\n/);

        const removed = await runCli(["rm", "tiny"], env);
        assert.equal(removed.code, 0, removed.stderr);
        assert.equal(removed.stdout, "deleted: tiny\n");
        assert.ok(!existsSync(path.join(modelsDir, "tiny.gguf")));
        assert.equal((await runCli(["ps"], env)).stdout, "No models loaded.\n");
    });

    it("fails with a one-line reason and a non-zero exit for a bad source", async () => {
        for (const [source, pattern] of [
            ["hf:tester/missing-repo", /^quandex: 404 model_not_found: .*hf:tester\/missing-repo/],
            ["gopher://x/y.gguf", /^quandex: 400 invalid_parameter: .*source/]
        ] as const) {
            const res = await runCli(["pull", source], env);
            assert.notEqual(res.code, 0);
            assert.match(res.stderr, pattern);
            assert.equal(res.stderr.trim().split("\n").length, 1, res.stderr);
        }
        const rm = await runCli(["rm", "nothing-here"], env);
        assert.notEqual(rm.code, 0);
        assert.match(rm.stderr, /404 model_not_found/);
    });
});
