import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { execFileSync } from "node:child_process";
import {
    buildLlamaServer,
    bundledLlamaCppSource,
    findBuiltLlamaServer,
    llamaServerCmakeFlags,
    llamaServerInstallDir,
    llamaServerTargets,
    readLlamaServerInstall,
    type LlamaServerBuildStamp,
    type LlamaServerVariant
} from "../src/llamaServer/LlamaServerBuild.js";

/** Writes what a finished build leaves behind (stamp + executables), without compiling anything. */
function fakeInstall(home: string, variant: LlamaServerVariant, stamp: Partial<LlamaServerBuildStamp> = {}): string {
    const source = bundledLlamaCppSource();
    const dir = llamaServerInstallDir(home, source.release, variant);
    mkdirSync(path.join(dir, "bin"), { recursive: true });
    for (const target of llamaServerTargets) writeFileSync(path.join(dir, "bin", target), "#!/bin/sh\n", { mode: 0o755 });
    const commit = execFileSync("git", ["bundle", "list-heads", source.bundlePath], { encoding: "utf8" }).split(/\s/)[0]!;
    const full: LlamaServerBuildStamp = {
        release: source.release,
        commit,
        variant,
        cmakeFlags: llamaServerCmakeFlags(variant),
        targets: [...llamaServerTargets],
        builtAt: "2026-01-01T00:00:00.000Z",
        durationSeconds: 900,
        ...stamp
    };
    writeFileSync(path.join(dir, "build.json"), JSON.stringify(full));
    return dir;
}

describe("llama-server build", () => {
    it("finds the llama.cpp source that node-llama-cpp bundles, and the release it holds", () => {
        const source = bundledLlamaCppSource();
        assert.match(source.release, /^[A-Za-z0-9._-]+$/);
        assert.ok(existsSync(source.bundlePath));
    });

    it("configures a Release build with native flags and OpenMP, and nothing that needs the network", () => {
        const flags = llamaServerCmakeFlags("cpu");
        for (const flag of ["-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=ON", "-DGGML_OPENMP=ON", "-DLLAMA_CURL=OFF", "-DLLAMA_USE_PREBUILT_UI=OFF", "-DBUILD_SHARED_LIBS=OFF"]) {
            assert.ok(flags.includes(flag), flag);
        }
        assert.ok(llamaServerCmakeFlags("cuda").includes("-DGGML_CUDA=ON"));
        assert.ok(llamaServerCmakeFlags("vulkan").includes("-DGGML_VULKAN=ON"));
        assert.deepEqual([...llamaServerTargets], ["llama-server", "llama-batched-bench"]);
    });

    it("installs under <home>/engines/<release>/<variant> and prefers a GPU variant when several are built", () => {
        const home = mkdtempSync(path.join(os.tmpdir(), "qdx-engines-"));
        assert.equal(findBuiltLlamaServer(home), null);
        const cpu = fakeInstall(home, "cpu");
        assert.equal(findBuiltLlamaServer(home)?.serverPath, path.join(cpu, "bin", "llama-server"));
        const cuda = fakeInstall(home, "cuda");
        assert.equal(findBuiltLlamaServer(home)?.dir, cuda);
        assert.equal(findBuiltLlamaServer(home, "cpu")?.dir, cpu);
        assert.equal(cpu, path.join(home, "engines", bundledLlamaCppSource().release, "cpu"));
    });

    it("keeps a build whose stamp matches, without compiling", async () => {
        const home = mkdtempSync(path.join(os.tmpdir(), "qdx-engines-"));
        const dir = fakeInstall(home, "cpu");
        let started = false;
        const result = await buildLlamaServer({ home, variant: "cpu", onStart: () => (started = true) });
        assert.equal(result.skipped, true);
        assert.equal(started, false);
        assert.equal(result.install.dir, dir);
        assert.equal(result.install.stamp.durationSeconds, 900);
    });

    it("rebuilds when the stamp names other flags (a build started, here cancelled at once)", async () => {
        const home = mkdtempSync(path.join(os.tmpdir(), "qdx-engines-"));
        fakeInstall(home, "cpu", { cmakeFlags: ["-DGGML_NATIVE=OFF"] });
        const controller = new AbortController();
        let started = false;
        await assert.rejects(
            buildLlamaServer({
                home,
                variant: "cpu",
                signal: controller.signal,
                onStart: () => {
                    started = true;
                    controller.abort();
                }
            })
        );
        assert.equal(started, true);
    });

    it("does not take a half-finished install (no stamp) for a build", () => {
        const home = mkdtempSync(path.join(os.tmpdir(), "qdx-engines-"));
        const dir = llamaServerInstallDir(home, bundledLlamaCppSource().release, "cpu");
        mkdirSync(path.join(dir, "bin"), { recursive: true });
        writeFileSync(path.join(dir, "bin", "llama-server"), "");
        assert.equal(readLlamaServerInstall(dir), null);
        assert.equal(findBuiltLlamaServer(home), null);
    });
});
