import assert from "node:assert/strict";
import { createHash, randomInt } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { QuandexError } from "@quandex/protocol";
import { allowedSkip, HuggingFaceFixture, requireTestModel } from "@quandex/test-support";
import { ModelPuller } from "../src/pull/ModelPuller.js";

const model = readFileSync(requireTestModel());
const sha = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");
/** A valid GGUF (the test model) with trailing bytes, large enough to span several 5 MiB download chunks. */
const large = Buffer.concat([model, Buffer.from(Array.from({ length: 16 * 2 ** 20 }, (_, i) => (i * 31) & 0xff))]);

function modelsDir(): string {
    return mkdtempSync(path.join(os.tmpdir(), "qdx-pull-"));
}

/** The model files a models dir lists (what the registry would see), without Quandex's own folder. */
function listed(dir: string): string[] {
    return readdirSync(dir)
        .filter((name) => !name.startsWith("."))
        .sort();
}

describe("pulling models from a Hugging Face-layout server", () => {
    const hub = new HuggingFaceFixture();
    const placed: string[] = [];
    const pullerFor = (dir: string, extra: Partial<ConstructorParameters<typeof ModelPuller>[0]> = {}) =>
        new ModelPuller({ modelsDir: dir, hfEndpoint: hub.url, onPlaced: (id) => placed.push(id), ...extra });

    before(async () => {
        hub.addRepo("tester", "stories-GGUF", [
            { path: "stories260K-Q8_0.gguf", content: model },
            { path: "stories260K-F16.gguf", content: model },
            { path: "mmproj-stories260K-F16.gguf", content: model },
            { path: "README.md", content: Buffer.from("# stories") }
        ]);
        hub.addRepo("tester", "split-GGUF", [
            { path: "stories-Q4_K_M-00001-of-00003.gguf", content: model },
            { path: "stories-Q4_K_M-00002-of-00003.gguf", content: Buffer.from("part two") },
            { path: "stories-Q4_K_M-00003-of-00003.gguf", content: Buffer.from("part three") }
        ]);
        hub.addRepo("tester", "large-GGUF", [{ path: "large-Q8_0.gguf", content: large }]);
        hub.addRepo("tester", "bad-GGUF", [
            { path: "lying-Q8_0.gguf", content: model, publishedSha256: "0".repeat(64) },
            { path: "portal-Q8_0.gguf", content: model, html: true }
        ]);
        await hub.start();
    });
    after(async () => {
        await hub.close();
    });

    it("pulls by quantisation, verifies the SHA-256, records it, and names the model after the file", async () => {
        const dir = modelsDir();
        const pull = await pullerFor(dir).start("hf:tester/stories-GGUF:q8_0");
        const state = await pull.done;
        assert.equal(state.status, "ready", JSON.stringify(state.error));
        assert.equal(state.model, "stories260K-Q8_0");
        assert.equal(state.sha256, sha(model));
        assert.equal(state.totalBytes, model.length);
        assert.deepEqual(listed(dir), ["stories260K-Q8_0.gguf"]);
        assert.ok(readFileSync(path.join(dir, "stories260K-Q8_0.gguf")).equals(model));
        assert.ok(placed.includes("stories260K-Q8_0"));
        assert.deepEqual(readdirSync(path.join(dir, ".quandex", "pulls")), [], "no staging left");
        const again = await (await pullerFor(dir).start("hf:tester/stories-GGUF:Q8_0")).done;
        assert.equal(again.status, "ready");
        assert.equal(again.alreadyPresent, true, "the same files are there: nothing to fetch");
    });

    it("pulls by file path, under another id with --as", async () => {
        const dir = modelsDir();
        const state = await (await pullerFor(dir).start("hf:tester/stories-GGUF/stories260K-F16.gguf", { id: "tiny" })).done;
        assert.equal(state.status, "ready", JSON.stringify(state.error));
        assert.deepEqual(listed(dir), ["tiny.gguf"]);
    });

    it("pulls a plain https-style URL", async () => {
        const dir = modelsDir();
        // Another host name than the hub's, as a plain URL would be.
        const url = hub.url.replace("127.0.0.1", "localhost") + "files/stories260K-F16.gguf";
        const state = await (await pullerFor(dir).start(url)).done;
        assert.equal(state.status, "ready", JSON.stringify(state.error));
        assert.equal(state.sha256, sha(model), "checked against X-Linked-Etag");
        assert.deepEqual(listed(dir), ["stories260K-F16.gguf"]);
    });

    it("downloads every part of a split model", async () => {
        const dir = modelsDir();
        const state = await (await pullerFor(dir).start("hf:tester/split-GGUF:Q4_K_M")).done;
        assert.equal(state.status, "ready", JSON.stringify(state.error));
        assert.equal(state.model, "stories-Q4_K_M");
        assert.deepEqual(listed(dir), ["stories-Q4_K_M-00001-of-00003.gguf", "stories-Q4_K_M-00002-of-00003.gguf", "stories-Q4_K_M-00003-of-00003.gguf"]);
        assert.equal(readFileSync(path.join(dir, "stories-Q4_K_M-00003-of-00003.gguf"), "utf8"), "part three");
    });

    it("refuses an ambiguous source with 400 listing the candidates, and unknown ones with 404 naming the source", async () => {
        const puller = pullerFor(modelsDir());
        await assert.rejects(
            puller.start("hf:tester/stories-GGUF"),
            (e: unknown) =>
                e instanceof QuandexError &&
                e.status === 400 &&
                e.param === "source" &&
                e.message.includes("hf:tester/stories-GGUF/stories260K-F16.gguf") &&
                e.message.includes("hf:tester/stories-GGUF/stories260K-Q8_0.gguf") &&
                !e.message.includes("mmproj")
        );
        for (const source of ["hf:tester/no-such-repo", "hf:tester/stories-GGUF:Q2_K", "hf:tester/stories-GGUF/missing.gguf"]) {
            await assert.rejects(
                puller.start(source),
                (e: unknown) => e instanceof QuandexError && e.status === 404 && e.code === "model_not_found" && e.message.includes(source.split(":")[1]!.split("/")[0]!),
                source
            );
        }
        await assert.rejects(puller.start(hub.url.replace("127.0.0.1", "localhost") + "files/nothing.gguf"), (e: unknown) => e instanceof QuandexError && e.status === 404);
        for (const source of ["ollama:llama3", "ftp://example.com/m.gguf", "hf:", "hf:owner", "https://example.com/readme.md", "hf:a/b/../c.gguf"]) {
            await assert.rejects(puller.start(source), (e: unknown) => e instanceof QuandexError && e.status === 400 && e.param === "source", source);
        }
    });

    it("fails on a checksum mismatch and on an HTML page, and leaves nothing in the models dir", async () => {
        const dir = modelsDir();
        const lying = await (await pullerFor(dir).start("hf:tester/bad-GGUF/lying-Q8_0.gguf")).done;
        assert.equal(lying.status, "error");
        assert.equal(lying.error?.code, "download_failed");
        assert.match(lying.error!.message, /SHA-256/);
        const portal = await (await pullerFor(dir).start("hf:tester/bad-GGUF/portal-Q8_0.gguf")).done;
        assert.equal(portal.status, "error");
        assert.equal(portal.error?.code, "download_failed");
        assert.match(portal.error!.message, /not a readable GGUF model \(the server sent an HTML page\)/);
        assert.deepEqual(listed(dir), []);
        assert.deepEqual(readdirSync(path.join(dir, ".quandex", "pulls")), []);
    });

    it("two pulls of one source share one download", async () => {
        const dir = modelsDir();
        const puller = pullerFor(dir);
        hub.resetCounts();
        hub.fault("large-Q8_0.gguf", { delayMsPerPiece: 1 });
        const [a, b] = await Promise.all([puller.start("hf:tester/large-GGUF:Q8_0"), puller.start("hf:tester/large-GGUF:Q8_0")]);
        hub.clearFaults();
        assert.equal(a, b, "the same pull");
        assert.equal((await a.done).status, "ready");
        assert.equal(hub.bytesRequested("large-Q8_0.gguf"), large.length, "each byte fetched once");
    });

    it("survives a network cut at a random byte, fetching again from the cut chunk, not from the start", async () => {
        const dir = modelsDir();
        hub.resetCounts();
        const cut = randomInt(1, large.length - 1);
        // Paced, so what the fixture writes is what the download reads.
        hub.fault("large-Q8_0.gguf", { cutAtByte: cut, delayMsPerPiece: 1 });
        const state = await (await pullerFor(dir).start("hf:tester/large-GGUF:Q8_0")).done;
        hub.clearFaults();
        assert.equal(state.status, "ready", JSON.stringify(state.error));
        assert.ok(readFileSync(path.join(dir, "large-Q8_0.gguf")).equals(large));
        // ipull keeps its progress per 5 MiB chunk: the retry starts again at the cut chunk's start.
        const chunk = 5 * 2 ** 20;
        const cutChunkStart = Math.floor(cut / chunk) * chunk;
        const ranges = hub.requests.filter((r) => r.range !== null).map((r) => Number(/^bytes=(\d+)-/.exec(r.range!)![1]));
        const retries = ranges.slice(ranges.findIndex((start) => start <= cut && start >= cutChunkStart) + 1);
        assert.ok(retries.includes(cutChunkStart) || ranges.filter((start) => start === cutChunkStart).length >= 2, `the retry starts at ${cutChunkStart}: ${ranges.join(", ")}`);
        const fetched = hub.rangedBytesSent("large-Q8_0.gguf");
        assert.ok(fetched < 2 * large.length, `${fetched} bytes fetched for a ${large.length}-byte file cut at ${cut}`);
    });

    it("resumes an interrupted pull (a restart) with Range requests, fetching only what it lacked", async () => {
        const dir = modelsDir();
        hub.resetCounts();
        const chunk = 5 * 2 ** 20;
        // The first chunk arrives at once, the rest slowly, so the interruption falls after one chunk is whole.
        hub.fault("large-Q8_0.gguf", { delayMsPerPiece: 20, slowFromByte: chunk });
        const first = pullerFor(dir);
        const pull = await first.start("hf:tester/large-GGUF:Q8_0");
        await new Promise<void>((resolve) => {
            const unsubscribe = pull.subscribe((state) => {
                if (state.downloadedBytes >= chunk + 2 ** 20) {
                    unsubscribe();
                    resolve();
                }
            });
        });
        await first.close();
        assert.equal(pull.snapshot().status, "error");
        assert.equal(pull.snapshot().error?.code, "server_shutdown");
        assert.deepEqual(listed(dir), [], "nothing listed while incomplete");
        // Paced, so what the fixture writes is what the resume reads.
        hub.fault("large-Q8_0.gguf", { delayMsPerPiece: 1 });
        hub.resetCounts();
        const resumed = await (await pullerFor(dir).start("hf:tester/large-GGUF:Q8_0")).done;
        hub.clearFaults();
        assert.equal(resumed.status, "ready", JSON.stringify(resumed.error));
        assert.ok(readFileSync(path.join(dir, "large-Q8_0.gguf")).equals(large));
        const fetched = hub.rangedBytesSent("large-Q8_0.gguf");
        // The whole first chunk came before the interruption and is not fetched again. (ipull's parallel
        // streams may read up to a chunk past their own, so the rest can come a little more than once.)
        assert.ok(fetched < large.length, `the resume fetched ${fetched} of ${large.length} bytes`);
        assert.ok(
            hub.requests.every((r) => r.range === null || !r.range.startsWith("bytes=0-")),
            "nothing from the start again"
        );
    });

    it("sends the token to the hub only", async () => {
        const dir = modelsDir();
        hub.resetCounts();
        await (
            await pullerFor(dir, { hfToken: "hf_secret" }).start("hf:tester/stories-GGUF:Q8_0")
        ).done;
        // The listing always carries it; node-llama-cpp's downloader tries a public file without it first.
        assert.ok(hub.requests.some((r) => r.url.startsWith("/api/") && r.authorization === "Bearer hf_secret"));
        assert.ok(hub.requests.every((r) => r.authorization === null || r.authorization === "Bearer hf_secret"));
        hub.resetCounts();
        const url = hub.url.replace("127.0.0.1", "localhost") + "files/stories260K-F16.gguf";
        await (
            await pullerFor(modelsDir(), { hfToken: "hf_secret" }).start(url)
        ).done;
        assert.ok(hub.requests.length > 0 && hub.requests.every((r) => r.authorization === null), "not to another host");
    });

    it("reports a full disk as 507 insufficient_storage and removes the partial download", async (t) => {
        const dir = modelsDir();
        try {
            execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir], { stdio: "ignore" });
        } catch {
            const reason = "mounting a small tmpfs for the full-disk case needs root";
            t.skip(allowedSkip(reason));
            return;
        }
        try {
            mkdirSync(path.join(dir, ".quandex"), { recursive: true });
            const state = await (await pullerFor(dir).start("hf:tester/large-GGUF:Q8_0")).done;
            assert.equal(state.status, "error");
            assert.equal(state.error?.code, "insufficient_storage", state.error?.message);
            assert.match(state.error!.message, /needs .* more in .* which has .* free/);
            assert.deepEqual(listed(dir), []);
            assert.equal(existsSync(path.join(dir, ".quandex", "pulls")) ? readdirSync(path.join(dir, ".quandex", "pulls")).length : 0, 0);
        } finally {
            execFileSync("umount", [dir]);
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
