/** The CLI client commands (generate, models, stats) run as child processes against a real server. */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { cliPath, freePort, modelId, startQuandex, unavailableReason, type RunningServer } from "./support/quandexServer.js";
import { allowedSkip } from "../helpers/allowedSkip.js";

const unavailable = unavailableReason();
const skip = unavailable === null ? null : allowedSkip(unavailable);
const golden = ", there was a little girl named Lily. She loved to play outside in the park.";

interface Run {
    code: number;
    stdout: string;
    stderr: string;
}

describe("quandex CLI client commands", { skip: skip ?? false }, () => {
    let server: RunningServer;
    let key: string;

    before(async () => {
        server = await startQuandex({ aliases: ["tiny-stories"] });
        key = await server.createKey("generate,read", ["--unlimited"]);
    });

    after(async () => {
        await server?.stop();
    });

    /** Runs `quandex ...args`; the key and URL come from flags unless `env` provides them. */
    async function quandex(args: string[], env: Record<string, string> = {}, useFlags = true): Promise<Run> {
        const flags = useFlags ? ["--base-url", server.baseURL, "--api-key", key] : [];
        try {
            const { stdout, stderr } = await promisify(execFile)(process.execPath, [cliPath, ...args, ...flags], {
                env: { ...process.env, QUANDEX_API_KEY: "", QUANDEX_BASE_URL: "", ...env },
                timeout: 60_000
            });
            return { code: 0, stdout, stderr };
        } catch (error) {
            const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
            return { code, stdout, stderr };
        }
    }

    it("generate prints the completion", async () => {
        const run = await quandex(["generate", "Once upon a time", "--model", modelId, "--max-tokens", "20", "--temperature", "0"]);
        assert.equal(run.code, 0, run.stderr);
        assert.ok(run.stdout.startsWith(golden.slice(0, 40)), run.stdout);
        assert.ok(run.stdout.endsWith("\n"));
        assert.equal(run.stderr, "");
    });

    it("generate --stream prints the same text token by token", async () => {
        const args = ["generate", "Once upon a time", "--model", "tiny-stories", "--max-tokens", "20", "--temperature", "0"];
        const [whole, streamed] = await Promise.all([quandex(args), quandex([...args, "--stream"])]);
        assert.equal(streamed.code, 0, streamed.stderr);
        assert.equal(streamed.stdout, whole.stdout);
    });

    it("generate --seed gives reproducible sampled output", async () => {
        const args = ["generate", "Once upon a time", "-m", modelId, "--max-tokens", "15", "--temperature", "0.8", "--seed", "7"];
        const [a, b] = await Promise.all([quandex(args), quandex(args)]);
        assert.equal(a.code, 0, a.stderr);
        assert.equal(a.stdout, b.stdout);
    });

    it("generate --json prints the wire response; with --stream, one chunk per line", async () => {
        const plain = await quandex(["generate", "Once upon a time", "-m", modelId, "--max-tokens", "5", "--json"]);
        assert.equal(plain.code, 0, plain.stderr);
        const body = JSON.parse(plain.stdout) as { choices: Array<{ text: string }>; usage: { completion_tokens: number } };
        assert.equal(body.usage.completion_tokens, 5);
        assert.equal(typeof body.choices[0]!.text, "string");

        const streamed = await quandex(["generate", "Once upon a time", "-m", modelId, "--max-tokens", "5", "--json", "--stream"]);
        assert.equal(streamed.code, 0, streamed.stderr);
        const lines = streamed.stdout
            .trimEnd()
            .split("\n")
            .map((line) => JSON.parse(line) as { choices: Array<{ finish_reason: string | null }>; usage?: unknown });
        assert.equal(lines.at(-1)!.choices[0]!.finish_reason, "length");
        assert.ok(lines.at(-1)!.usage);
    });

    it("models prints a table; --json prints the model list", async () => {
        const table = await quandex(["models"]);
        assert.equal(table.code, 0, table.stderr);
        const [header, row] = table.stdout.trimEnd().split("\n");
        assert.match(header!, /^ID\s+STATUS\s+MEMORY\s+BACKEND/);
        assert.match(row!, new RegExp(`^${modelId}\\s+(ready|loading|unloaded)\\s+`));
        assert.match(row!, /tiny-stories$/);

        const json = await quandex(["models", "--json"]);
        const list = JSON.parse(json.stdout) as { object: string; models: Array<{ id: string }> };
        assert.equal(list.object, "list");
        assert.deepEqual(
            list.models.map((m) => m.id),
            [modelId]
        );
    });

    it("stats prints a summary; --json prints the stats document", async () => {
        await quandex(["generate", "Once", "-m", modelId, "--max-tokens", "3"]);
        const summary = await quandex(["stats"]);
        assert.equal(summary.code, 0, summary.stderr);
        assert.match(summary.stdout, /^Device {2}.+\(cpu|cuda|vulkan|metal\)/m);
        // `engine.type: auto` serves on llama-server when one is built (CI builds it), else in-process.
        assert.match(summary.stdout, /^Engine {2}(node-llama-cpp|llama-server) /m);
        assert.match(summary.stdout, /^Server {2}up .+, 0 active sequences, queue 0\/\d+/m);
        assert.match(summary.stdout, new RegExp(`^${modelId}\\s+[\\d.]+\\s+\\d`, "m"));

        const json = await quandex(["stats", "--json"]);
        const stats = JSON.parse(json.stdout) as { server: { active_sequences: number }; models: Record<string, { requests_total: number }> };
        assert.equal(stats.server.active_sequences, 0);
        assert.ok(stats.models[modelId]!.requests_total >= 1);
    });

    it("stats --watch refreshes until Ctrl-C, then exits 0", async () => {
        const child = spawn(process.execPath, [cliPath, "stats", "--watch", "0.2", "--base-url", server.baseURL, "--api-key", key], {
            stdio: ["ignore", "pipe", "pipe"]
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (data: Buffer) => (stdout += data.toString()));
        child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
        const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
        const deadline = Date.now() + 15_000;
        while ((stdout.match(/^quandex stats, every 0.2s/gm)?.length ?? 0) < 3 && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
        child.kill("SIGINT");
        assert.equal(await exited, 0, stderr);
        assert.ok((stdout.match(/^Server {2}up/gm)?.length ?? 0) >= 3, stdout);
    });

    it("--json --watch prints one stats document per line", async () => {
        const child = spawn(process.execPath, [cliPath, "stats", "--watch", "0.2", "--json", "--base-url", server.baseURL, "--api-key", key], {
            stdio: ["ignore", "pipe", "pipe"]
        });
        let stdout = "";
        child.stdout.on("data", (data: Buffer) => (stdout += data.toString()));
        const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
        const deadline = Date.now() + 15_000;
        while (stdout.split("\n").length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        child.kill("SIGINT");
        assert.equal(await exited, 0);
        const docs = stdout
            .trimEnd()
            .split("\n")
            .map((line) => JSON.parse(line) as { server: unknown });
        assert.ok(docs.length >= 2 && docs.every((d) => d.server !== undefined));
    });

    it("takes the URL and key from QUANDEX_BASE_URL and QUANDEX_API_KEY", async () => {
        const run = await quandex(["models", "--json"], { QUANDEX_BASE_URL: server.baseURL, QUANDEX_API_KEY: key }, false);
        assert.equal(run.code, 0, run.stderr);
        assert.equal((JSON.parse(run.stdout) as { object: string }).object, "list");
    });

    describe("errors: one line on stderr, non-zero exit", () => {
        function assertOneLine(run: Run, pattern: RegExp): void {
            assert.notEqual(run.code, 0);
            assert.equal(run.stdout, "");
            const lines = run.stderr.trimEnd().split("\n");
            assert.equal(lines.length, 1, run.stderr);
            assert.match(lines[0]!, pattern);
        }

        it("unknown model", async () => {
            assertOneLine(
                await quandex(["generate", "x", "-m", "no-such-model"]),
                /^quandex: 404 model_not_found: The model 'no-such-model' does not exist\..* \(request req_\w+\)$/
            );
        });

        it("bad key", async () => {
            const run = await quandex(["models"], { QUANDEX_BASE_URL: server.baseURL, QUANDEX_API_KEY: "qdx_wrong" }, false);
            assertOneLine(run, /^quandex: 401 invalid_api_key: /);
        });

        it("no key", async () => {
            assertOneLine(await quandex(["stats"], { QUANDEX_BASE_URL: server.baseURL }, false), /^quandex: no API key: pass --api-key or set QUANDEX_API_KEY/);
        });

        it("invalid parameter", async () => {
            assertOneLine(await quandex(["generate", "x", "-m", modelId, "--temperature", "5"]), /^quandex: 400 invalid_parameter: Invalid value for 'temperature'/);
        });

        it("missing scope", async () => {
            const reader = await server.createKey("read");
            const run = await quandex(["generate", "x", "-m", modelId], { QUANDEX_BASE_URL: server.baseURL, QUANDEX_API_KEY: reader }, false);
            assertOneLine(run, /^quandex: 403 insufficient_scope: /);
        });

        it("server down", async () => {
            const port = await freePort();
            const run = await quandex(["models"], { QUANDEX_BASE_URL: `http://127.0.0.1:${port}/v1`, QUANDEX_API_KEY: key }, false);
            assertOneLine(run, new RegExp(`^quandex: cannot reach the server at http://127.0.0.1:${port}/v1: .*ECONNREFUSED`));
        });
    });
});
