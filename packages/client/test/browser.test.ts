/**
 * The SDK in a browser-like sandbox: bundled for the browser platform (no Node built-ins allowed)
 * and run in a VM context that has the web globals but no `process`, `Buffer` or `require`.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import vm from "node:vm";
import { allowedSkip } from "./helpers/allowedSkip.js";

type Esbuild = typeof import("esbuild");
// esbuild comes with tsx (the test runner's loader); if it ever moves the suite skips, saying so
// (a failure under CI).
const esbuild: Esbuild | null = await import("esbuild").catch(() => null);

const entry = fileURLToPath(new URL("../src/index.ts", import.meta.url));

describe("in a browser", { skip: esbuild === null ? allowedSkip("esbuild is not installed") : false }, () => {
    it("bundles for the browser platform and works without process", async () => {
        const result = await esbuild!.build({
            entryPoints: [entry],
            bundle: true,
            platform: "browser",
            format: "iife",
            globalName: "Quandex",
            write: false,
            logLevel: "silent"
        });
        assert.deepEqual(result.errors, []);
        const code = result.outputFiles[0]!.text;

        const wire = { id: "gen_1", model: "m", choices: [{ text: "Hello", finish_reason: "stop" }], usage: {}, metal_stats: {} };
        const sse = `data: ${JSON.stringify({ id: "gen_1", model: "m", choices: [{ text: "Hi", finish_reason: null }] })}\n\ndata: [DONE]\n\n`;
        const fakeFetch = async (_url: string, init: { body: string }) =>
            JSON.parse(init.body).stream
                ? new Response(sse, { headers: { "content-type": "text/event-stream" } })
                : new Response(JSON.stringify(wire), { headers: { "content-type": "application/json" } });

        const sandbox: Record<string, unknown> = {
            fetch: fakeFetch,
            Headers,
            Request,
            Response,
            ReadableStream,
            TextDecoder,
            TextEncoder,
            AbortController,
            AbortSignal,
            DOMException,
            URL,
            setTimeout,
            clearTimeout,
            console
        };
        const context = vm.createContext(sandbox);
        vm.runInContext(code, context);
        const output = (await vm.runInContext(
            `(async () => {
                if (typeof process !== "undefined" || typeof Buffer !== "undefined") throw new Error("not a browser sandbox");
                let noKey = "";
                try { new Quandex.QuandexClient(); } catch (e) { noKey = e.name; }
                const client = new Quandex.QuandexClient({ apiKey: "qdx_browser" });
                const result = await client.generate({ model: "m", prompt: "p" });
                const texts = [];
                for await (const chunk of client.streamGenerate({ model: "m", prompt: "p" })) texts.push(chunk.text);
                return { noKey, baseURL: client.baseURL, text: result.text, texts };
            })()`,
            context
        )) as { noKey: string; baseURL: string; text: string; texts: string[] };
        assert.deepEqual({ ...output, texts: [...output.texts] }, { noKey: "QuandexError", baseURL: "http://localhost:8000/v1", text: "Hello", texts: ["Hi"] });
    });
});
