import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { PermissionDeniedError, QuandexClient } from "@quandex/client";
import { NodeLlamaEngine } from "@quandex/engine";
import type { StatsResponse } from "@quandex/protocol";
import { allowedSkip, HuggingFaceFixture, requireTestModel } from "@quandex/test-support";
import { auth, createHarness, type Harness } from "../support/harness.js";

/**
 * The web console in a real browser (Debian's chromium, driven by playwright-core) against a real
 * Quandex on the test model with the in-process engine. Screenshots of each page at 1280 and 390 px go
 * to a temp dir, or to docs/screenshots with QUANDEX_UPDATE_SCREENSHOTS=1 (the README shows those).
 */
const chromiumPath = process.env.QUANDEX_CHROMIUM ?? "/usr/bin/chromium";
const skip = existsSync(chromiumPath) ? false : allowedSkip(`no chromium at ${chromiumPath} (apt-get install chromium, or set QUANDEX_CHROMIUM)`);
const MODEL = "stories260K";
const widths = [1280, 390] as const;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const updateScreenshots = process.env.QUANDEX_UPDATE_SCREENSHOTS === "1";

describe("the web console in chromium", { skip }, () => {
    let h: Harness;
    let browser: Browser;
    let page: Page;
    let shotsDir = "";
    const consoleErrors: string[] = [];
    // A local stand-in for Hugging Face, slowed down so the pull's progress bar has steps to show.
    const hub = new HuggingFaceFixture();

    before(async () => {
        hub.addRepo("tester", "stories-GGUF", [{ path: "stories260K-Q8_0.gguf", content: readFileSync(requireTestModel()) }]);
        hub.fault("stories260K-Q8_0.gguf", { delayMsPerPiece: 60 });
        await hub.start();
        h = await createHarness({
            hfEndpoint: hub.url,
            engine: await NodeLlamaEngine.create({ gpu: "auto" }),
            files: { [`${MODEL}.gguf`]: requireTestModel() },
            defaults: { contextSize: 4096, parallel: 2 }
        });
        await h.listen();
        shotsDir = updateScreenshots ? path.join(repoRoot, "docs/screenshots") : mkdtempSync(path.join(os.tmpdir(), "qdx-shots-"));
        mkdirSync(shotsDir, { recursive: true });
        browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
        page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        // A CSP violation or an uncaught error shows up here; the last test asserts there were none.
        page.on("console", (message) => {
            if (message.type() === "error" && !/Failed to load resource/.test(message.text())) consoleErrors.push(message.text());
        });
        page.on("pageerror", (error) => consoleErrors.push(error.message));
    });
    after(async () => {
        await browser?.close();
        await h?.close();
        await hub.close();
        if (!updateScreenshots && shotsDir !== "") rmSync(shotsDir, { recursive: true, force: true });
    });

    async function shoot(name: string): Promise<void> {
        for (const width of widths) {
            await page.setViewportSize({ width, height: 900 });
            await page.waitForTimeout(300); // uPlot follows its container's width through a ResizeObserver
            const png = await page.screenshot({ path: path.join(shotsDir, `${name}-${width}.png`), fullPage: true });
            assert.ok(png.length > 1000, `${name}-${width}.png is empty`);
        }
        await page.setViewportSize({ width: 1280, height: 900 });
    }

    async function signIn(key: string): Promise<void> {
        await page.goto(`${h.url}/`);
        await page.fill('input[name="api-key"]', key);
        await page.click('button[type="submit"]');
    }

    async function stats(): Promise<StatsResponse> {
        return (await (await fetch(`${h.url}/v1/stats`, { headers: auth(h.keys.read) })).json()) as StatsResponse;
    }

    it("a bad key shows the API's error message and code, and stores nothing", async () => {
        await signIn("qdx_not_a_real_key");
        const error = page.locator('[role="alert"]');
        await error.waitFor();
        assert.match(await error.innerText(), /invalid_api_key/);
        assert.equal(await page.evaluate(() => sessionStorage.length), 0);
        await shoot("sign-in");
    });

    it("a good key signs in, is kept in sessionStorage only, and the overview shows the model", async () => {
        await signIn(h.keys.admin);
        const row = page.locator(`[data-testid="models-table"] tr[data-model="${MODEL}"]`);
        await row.waitFor();
        assert.match(await row.innerText(), new RegExp(MODEL));
        assert.equal(await page.evaluate(() => sessionStorage.getItem("quandex.apiKey")), h.keys.admin);
        assert.equal(await page.evaluate(() => document.cookie), "");
        assert.equal((await page.context().cookies()).length, 0);
        assert.doesNotMatch(page.url(), /qdx_/);
        assert.match(await page.locator('[data-testid="engine"]').innerText(), /node-llama-cpp/);
        // Signed in across a reload of the tab.
        await page.reload();
        await row.waitFor();
    });

    it("the playground streams an answer and Stop cancels it on the server", async () => {
        await page.click('a[data-page="playground"]');
        await page.fill('textarea[name="prompt"]', "Once upon a time");
        await page.fill('input[name="max-tokens"]', "3900");
        await page.fill('input[name="temperature"]', "0");
        await page.click('button[type="submit"]');
        const answer = page.locator('[data-testid="answer"]');
        await page.waitForFunction(() => (document.querySelector('[data-testid="answer"]')?.textContent ?? "").length > 20);
        await page.click('[data-testid="stop"]');
        await page.locator('[data-testid="finish"]').waitFor();
        assert.equal(await page.locator('[data-testid="finish"]').innerText(), "stopped");
        assert.ok((await answer.innerText()).length > 20);
        // The server gave the sequence back: nothing running, nothing waiting. A server that kept
        // generating would hold the sequence until all 3900 tokens were out and then count them in
        // completion_tokens_total; a cancelled run ends early and counts none.
        let latest = await stats();
        for (let i = 0; i < 100 && (latest.server.active_sequences > 0 || latest.server.queue_depth > 0); i++) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            latest = await stats();
        }
        assert.equal(latest.server.active_sequences, 0);
        assert.equal(latest.server.queue_depth, 0);
        assert.ok(latest.models[MODEL]!.completion_tokens_total < 3900, `the request ran to ${latest.models[MODEL]!.completion_tokens_total} tokens`);
        assert.match(await page.locator('[data-testid="snippet"]').innerText(), /curl -N .*\/v1\/chat\/completions/s);
        await shoot("playground");
    });

    it("the generate mode shows the answer's metal_stats", async () => {
        await page.selectOption('select[name="mode"]', "generate");
        await page.fill('input[name="max-tokens"]', "40");
        await page.click('button[type="submit"]');
        await page.waitForFunction(() => document.querySelector('[data-testid="finish"]')?.textContent === "length");
        assert.match(await page.locator('[data-testid="answer-stats"]').innerText(), /"backend":"cpu"|"backend":"(metal|cuda|vulkan)"/);
        assert.match(await page.locator('[data-testid="snippet"]').innerText(), /stream_generate|curl/);
    });

    it("the overview charts the last minutes from /v1/stats", async () => {
        await page.click('a[data-page="overview"]');
        await page.locator(".chart canvas").first().waitFor();
        assert.ok((await page.locator(".chart canvas").count()) >= 4);
        await shoot("overview");
    });

    it("the models page lists the model with its state, unloads and loads it, pulls one with a progress bar and deletes it", async () => {
        await page.click('a[data-page="models"]');
        const row = page.locator(`[data-testid="models-admin-table"] tr[data-model="${MODEL}"]`);
        await row.waitFor();
        const state = (wanted: string) => page.waitForFunction(([id, s]) => document.querySelector(`tr[data-model="${id}"] .state`)?.textContent === s, [MODEL, wanted]);
        await row.getByRole("button", { name: "Unload", exact: true }).click();
        await state("unloaded");
        await row.getByRole("button", { name: "Load", exact: true }).click();
        await state("ready");
        // Pull a model with its progress streamed into the bar, then delete it.
        await page.fill('form.pull input[name="source"]', "hf:tester/stories-GGUF:Q8_0");
        await page.click('form.pull button[type="submit"]');
        const progress = page.locator('[data-testid="pull-progress"]');
        await progress.waitFor();
        await page.waitForFunction(() => /^ready/.test(document.querySelector('[data-testid="pull-progress"] span')?.textContent ?? ""));
        assert.match(await progress.innerText(), /1\.1 MiB of 1\.1 MiB/);
        const pulled = page.locator('[data-testid="models-admin-table"] tr[data-model*="Q8_0"]');
        await pulled.waitFor();
        await shoot("models");
        page.once("dialog", (dialog) => void dialog.accept());
        await pulled.getByRole("button", { name: "Delete", exact: true }).click();
        await pulled.waitFor({ state: "detached" });
        assert.equal(
            ((await (await fetch(`${h.url}/v1/models`, { headers: auth(h.keys.read) })).json()) as { models: Array<{ id: string }> }).models.some((m) => m.id.includes("Q8_0")),
            false
        );
    });

    it("an admin creates a key in the UI, and that key works with the TypeScript SDK", async () => {
        await page.click('a[data-page="keys"]');
        await page.fill('input[name="key-name"]', "made-in-the-console");
        await page.click('button:has-text("Create key")');
        const secret = (await page.locator('[data-testid="secret-value"]').innerText()).trim();
        assert.match(secret, /^qdx_/);
        await page.locator('tr[data-key="made-in-the-console"]').waitFor();
        const client = new QuandexClient({ apiKey: secret, baseURL: `${h.url}/v1`, maxRetries: 0 });
        const result = await client.generate({ model: MODEL, prompt: "Once upon a time", max_tokens: 5, temperature: 0 });
        assert.ok(result.usage.completion_tokens > 0);
        // The defaults it was given (generate, read) hold no admin.
        await assert.rejects(client.request("GET", "/admin/keys"), PermissionDeniedError);
        // The admin key's own usage for the picture (it ran the playground's requests); the secret is put away first.
        await page.click('[data-testid="new-secret"] button:has-text("Done")');
        await page.selectOption('select[name="usage-key"]', { label: "admin" });
        await shoot("keys");
    });

    it("a key without admin sees no admin pages, and the API refuses it admin calls with 403", async () => {
        await page.click("button:has-text('Sign out')");
        await signIn(h.keys.generate);
        await page.locator(`[data-testid="models-table"] tr[data-model="${MODEL}"]`).waitFor();
        const nav = await page.locator("nav").innerText();
        assert.doesNotMatch(nav, /Models|Keys/);
        assert.match(nav, /Overview/);
        await page.goto(`${h.url}/#/keys`);
        await page.locator('[data-testid="models-table"]').waitFor();
        assert.equal(await page.locator('[data-testid="keys-table"]').count(), 0);
        for (const [method, url] of [
            ["GET", "/v1/admin/keys"],
            ["POST", `/v1/models/${MODEL}/unload`]
        ] as const) {
            const res = await fetch(`${h.url}${url}`, { method, headers: auth(h.keys.generate) });
            assert.equal(res.status, 403, url);
            assert.equal(((await res.json()) as { error: { code: string } }).error.code, "insufficient_scope");
        }
        await shoot("overview-without-admin");
    });

    it("the console works at /ui/ too, and the browser reported no CSP violation or script error", async () => {
        await page.goto(`${h.url}/ui/`);
        await page.locator(`[data-testid="models-table"] tr[data-model="${MODEL}"]`).waitFor();
        assert.deepEqual(consoleErrors, []);
    });
});
