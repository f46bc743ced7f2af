// The README's and docs/'s examples, run as a reader would paste them into a second terminal
// after the quick start: a real `quandex serve` on the test model (under its quick-start id,
// stories260K), a fresh admin key in QUANDEX_API_KEY and the server in QUANDEX_BASE_URL.
//
// Every fenced block carries a marker (see extractDocBlocks.ts); a block without one, or one that
// fails, fails the test. Shell blocks run in bash with `set -euo pipefail` and curl made to fail on
// an HTTP error (`--fail-with-body`), so a 404 example cannot pass; Python blocks run in the
// setup's .venv; TypeScript and JavaScript blocks run through tsx with this checkout's packages.
// The one change made to a block before it runs: `localhost:8000` and `127.0.0.1:8000` become this
// server's address, since parallel test runs cannot all own port 8000.
import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { requireTestModel } from "@quandex/test-support";
import { runCli, startServerProcess, type ServerProcess } from "../support/serverProcess.js";
import { extractDocBlocks, markingProblem, runLanguages, type DocBlock } from "./extractDocBlocks.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const docFiles = [
    "README.md",
    ...readdirSync(path.join(repoRoot, "docs"))
        .filter((name) => name.endsWith(".md"))
        .sort()
        .map((name) => `docs/${name}`)
];
const blocksByFile = new Map(docFiles.map((file) => [file, extractDocBlocks(file, readFileSync(path.join(repoRoot, file), "utf8"))]));
const allBlocks = [...blocksByFile.values()].flat();
/** A block that has not finished by then has hung; the slowest (the OpenAI Node client's calls) takes a few seconds. */
const blockTimeoutMs = 120_000;

const shellPrelude = `set -euo pipefail
curl() { command curl --fail-with-body --show-error "$@"; }
`;

describe("documentation examples", () => {
    it("marks every fenced block (run, env, template or skip) and can run every block marked to run", () => {
        const problems = allBlocks.map(markingProblem).filter((problem): problem is string => problem !== null);
        assert.deepEqual(problems, [], `fix the marking of these blocks:\n${problems.join("\n")}`);
        assert.ok(
            allBlocks.some((block) => block.mode === "run"),
            "no block is marked to run: the extraction is broken"
        );
    });

    it("prints why each block that is not run is not run", (t) => {
        for (const block of allBlocks.filter((b) => b.mode === "template" || b.mode === "skip")) {
            t.diagnostic(`not run: ${block.file}:${block.line} (${block.lang}) ${block.mode}: ${block.reason}`);
        }
    });
});

describe("documentation examples against a live server", () => {
    let server: ServerProcess;
    let work: string;
    let env: NodeJS.ProcessEnv;
    let address: string;

    before(async () => {
        work = mkdtempSync(path.join(os.tmpdir(), "quandex-docs-"));
        const modelsDir = path.join(work, "models");
        const dataDir = path.join(work, "data");
        for (const dir of [modelsDir, dataDir, path.join(work, "run")]) mkdirSync(dir);
        symlinkSync(requireTestModel(), path.join(modelsDir, "stories260K.gguf"));
        // TypeScript blocks import the packages this checkout built, as a project that installed them would.
        symlinkSync(path.join(repoRoot, "node_modules"), path.join(work, "run", "node_modules"));
        // QUANDEX_HOME stays the user's, as for the quick start: the server picks the engine the
        // same way (a llama-server built under ~/.quandex/engines, else node-llama-cpp).
        const base: NodeJS.ProcessEnv = { QUANDEX_DATA_DIR: dataDir, QUANDEX_MODELS_DIR: modelsDir };
        // Unlimited, unlike the quick start's key: the test pastes faster than a person and the
        // limits have their own tests; everything else is the quick start's admin key.
        const created = await runCli(["keys", "create", "--name", "docs", "--scopes", "generate,read,admin", "--unlimited", "--json"], base);
        assert.equal(created.code, 0, created.stderr);
        const key = (JSON.parse(created.stdout) as { key: string }).key;
        server = await startServerProcess(["--models-dir", modelsDir, "--data-dir", dataDir], base);
        address = new URL(server.url).host;
        env = { ...process.env, ...base, QUANDEX_API_KEY: key, QUANDEX_BASE_URL: `${server.url}/v1`, NO_COLOR: "1" };
    });

    after(async () => {
        await server?.stop();
        if (work) rmSync(work, { recursive: true, force: true });
    });

    for (const [file, blocks] of blocksByFile) {
        describe(file, () => {
            const envBlocks: DocBlock[] = [];
            for (const block of blocks) {
                if (block.mode !== "run" && block.mode !== "env") continue;
                const runner = runLanguages[block.lang];
                if (!runner) continue; // reported by the marking test
                const setup = [...envBlocks];
                if (block.mode === "env") envBlocks.push(block);
                it(`${block.file}:${block.line} (${block.lang})`, { timeout: blockTimeoutMs + 10_000 }, async (t) => {
                    const code = (text: string): string => text.replaceAll("localhost:8000", address).replaceAll("127.0.0.1:8000", address);
                    const dir = path.join(work, "run");
                    let command: string[];
                    if (runner === "shell") {
                        const script = path.join(dir, `block-${block.line}.sh`);
                        writeFileSync(script, shellPrelude + [...setup, block].map((b) => code(b.code)).join("\n") + "\n");
                        command = ["bash", script];
                    } else if (runner === "python") {
                        const python = path.join(repoRoot, ".venv", "bin", "python");
                        assert.ok(existsSync(python), `${python} is missing: scripts/setup.sh creates it`);
                        const script = path.join(dir, `block-${block.line}.py`);
                        writeFileSync(script, code(block.code) + "\n");
                        command = [python, script];
                    } else {
                        const script = path.join(dir, `block-${block.line}.mts`);
                        writeFileSync(script, code(block.code) + "\n");
                        command = [process.execPath, "--import", "tsx", script];
                    }
                    const result = await run(command, dir, env);
                    report(t, result.output);
                    assert.equal(result.code, 0, `${block.file}:${block.line} failed (exit ${result.code}):\n${result.output}`);
                });
            }
        });
    }
});

function run(command: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
        const child = spawn(command[0]!, command.slice(1), { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (d: Buffer) => (output += d.toString()));
        child.stderr.on("data", (d: Buffer) => (output += d.toString()));
        const timer = setTimeout(() => {
            output += `\n(killed after ${blockTimeoutMs} ms)`;
            child.kill("SIGKILL");
        }, blockTimeoutMs);
        child.once("close", (code) => {
            clearTimeout(timer);
            resolve({ code, output });
        });
    });
}

/** The block's output, shortened, in the test report: what a reader would have seen. */
function report(t: TestContext, output: string): void {
    const lines = output.trimEnd().split("\n");
    const shown = lines.slice(0, 12).map((line) => (line.length > 200 ? `${line.slice(0, 200)}…` : line));
    if (lines.length > shown.length) shown.push(`… (${lines.length - shown.length} more lines)`);
    for (const line of shown) t.diagnostic(line);
}
