import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { SharedPrefixes } from "../src/llamaServer/SharedPrefixes.js";

/**
 * The failure paths of SharedPrefixes, against a stand-in for llama-server's `/completion` and
 * `/slots` routes (the real server's path is tested in llamaServerEngine.test.ts): it writes and
 * reads the files as llama-server does, and can be told to refuse saves or hold a prefill.
 */
async function standIn(dir: string, behaviour: { refuseSave?: boolean; prefillGate?: Promise<void> } = {}) {
    const calls: string[] = [];
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (chunk: Buffer) => (body += chunk.toString()));
        req.on("end", () => {
            void (async () => {
                calls.push(req.url!);
                const url = new URL(req.url!, "http://x");
                res.setHeader("content-type", "application/json");
                if (url.pathname === "/completion") {
                    await behaviour.prefillGate;
                    res.end("{}");
                    return;
                }
                const { filename } = JSON.parse(body) as { filename: string };
                const action = url.searchParams.get("action");
                if (action === "save" && !behaviour.refuseSave) {
                    writeFileSync(path.join(dir, filename), Buffer.alloc(1000));
                    res.end(JSON.stringify({ n_written: 1000 }));
                } else if (action === "restore" && existsSync(path.join(dir, filename))) {
                    res.end(JSON.stringify({ n_read: 1000 }));
                } else {
                    res.statusCode = 400;
                    res.end(JSON.stringify({ error: { message: "Invalid action" } }));
                }
            })();
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

function setup(behaviour: Parameters<typeof standIn>[1] = {}, maxBytes = 1 << 20) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "qdx-prefixes-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const errors: string[] = [];
    return standIn(dir, behaviour).then(({ url, calls }) => ({
        dir,
        calls,
        errors,
        prefixes: new SharedPrefixes(url, { dir, minTokens: 8, maxBytes, onError: (what) => errors.push(what) })
    }));
}

const signal = new AbortController().signal;
const opening = Array.from({ length: 20 }, (_, i) => i + 1);

describe("SharedPrefixes", () => {
    it("saves a long prompt nobody holds and restores it for the same key only, never for a short one", async () => {
        const { prefixes, calls } = await setup();
        assert.deepEqual(await prefixes.prepare(0, [...opening, 100, 101], "k", 0, signal), { holds: 20, evaluated: 20 });
        assert.deepEqual(await prefixes.prepare(1, [...opening, 200, 201], "k", 0, signal), { holds: 20, evaluated: 0 });
        assert.deepEqual(calls, ["/completion", "/slots/0?action=save", "/slots/1?action=restore"]);
        // Another key's prompt is saved anew, not restored from this one; a short prompt is left alone.
        assert.equal((await prefixes.prepare(2, [...opening, 300, 301], "other", 0, signal)).evaluated, 20);
        assert.deepEqual(await prefixes.prepare(3, [1, 2, 3], "k", 0, signal), { holds: 0, evaluated: 0 });
        // A slot that already holds most of the prompt is not touched.
        assert.deepEqual(await prefixes.prepare(3, [...opening, 100, 101, 102], "k", 18, signal), { holds: 18, evaluated: 0 });
    });

    it("lets a request that shares the prompt wait for its save, and one whose client left stop waiting", async () => {
        let open!: () => void;
        const { prefixes } = await setup({ prefillGate: new Promise<void>((resolve) => (open = resolve)) });
        const first = prefixes.prepare(0, [...opening, 100, 101], "k", 0, signal);
        const waiting = prefixes.prepare(1, [...opening, 200, 201], "k", 0, signal);
        const leaving = new AbortController();
        const left = prefixes.prepare(2, [...opening, 300, 301], "k", 0, leaving.signal);
        leaving.abort();
        assert.deepEqual(await left, { holds: 0, evaluated: 0 }, "it goes on with what its slot held");
        open();
        assert.deepEqual(await first, { holds: 20, evaluated: 20 });
        assert.deepEqual(await waiting, { holds: 20, evaluated: 0 });
    });

    it("turns itself off when the server refuses to save, keeping the request's own prefill", async () => {
        const { prefixes, calls, errors } = await setup({ refuseSave: true });
        assert.deepEqual(await prefixes.prepare(0, [...opening, 100, 101], "k", 0, signal), { holds: 20, evaluated: 20 });
        assert.deepEqual(await prefixes.prepare(1, [...opening, 200, 201], "k", 0, signal), { holds: 0, evaluated: 0 });
        assert.deepEqual(calls, ["/completion", "/slots/0?action=save"], "nothing more is tried");
        assert.equal(errors.length, 1);
    });

    it("keeps its files within maxBytes, the least recently used out first, and deletes them all on dispose", async () => {
        const { prefixes, dir } = await setup({}, 2500);
        for (let i = 0; i < 4; i++) await prefixes.prepare(i, [...opening.map((t) => t + 100 * i), 1, 2], `k${i}`, 0, signal);
        assert.deepEqual(readdirSync(dir).sort(), ["prefix-3.bin", "prefix-4.bin"]);
        prefixes.dispose();
        assert.equal(existsSync(dir), false);
    });
});
