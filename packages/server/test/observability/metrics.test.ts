import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { FakeEngine } from "@quandex/engine/testing";
import { allowedSkip, requireTestModel } from "@quandex/test-support";
import { bearer, createObsApp, parseExposition, type ObsApp } from "./obsApp.js";

const model = requireTestModel();
const json = { "content-type": "application/json" };

describe("GET /metrics", () => {
    let o: ObsApp;
    before(async () => {
        o = await createObsApp({ engine: new FakeEngine({ failPaths: /broken/ }), files: { "fake.gguf": model, "broken.gguf": model } });
    });
    after(async () => {
        await o.close();
    });

    const scrape = async (key = o.keys.metrics): Promise<{ text: string; samples: Map<string, number> }> => {
        const res = await o.app.inject({ method: "GET", url: "/metrics", headers: bearer(key) });
        assert.equal(res.statusCode, 200, res.body);
        assert.match(String(res.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
        return { text: res.body, samples: parseExposition(res.body) };
    };

    it("agrees with /v1/stats after N requests, streamed and not", async () => {
        const n = 7;
        for (let i = 0; i < n; i++) {
            const res = await o.app.inject({
                method: "POST",
                url: "/v1/generate",
                headers: { ...bearer(o.keys.generate), ...json },
                payload: JSON.stringify({ model: "fake", prompt: `hello ${i}`, max_tokens: 5, stream: i % 2 === 0 })
            });
            assert.equal(res.statusCode, 200, res.body);
        }
        const stats = (await o.app.inject({ method: "GET", url: "/v1/stats", headers: bearer(o.keys.read) })).json() as {
            models: Record<
                string,
                { requests_total: number; errors_total: number; completion_tokens_total: number; prompt_tokens_total: number; cached_prompt_tokens_total: number }
            >;
        };
        const fake = stats.models.fake!;
        assert.equal(fake.requests_total, n);
        assert.ok(fake.completion_tokens_total > 0);
        const { samples } = await scrape();
        assert.equal(samples.get('quandex_generation_tokens_total{model="fake"}'), fake.completion_tokens_total);
        assert.equal(samples.get('quandex_prompt_tokens_total{model="fake"}'), fake.prompt_tokens_total);
        assert.equal(samples.get('quandex_prompt_cache_hit_tokens_total{model="fake"}'), fake.cached_prompt_tokens_total);
        assert.equal(samples.get('quandex_model_requests_total{model="fake"}'), fake.requests_total);
        assert.equal(samples.get('quandex_model_request_errors_total{model="fake"}'), fake.errors_total);
        // The HTTP view: the same N requests, by route and status.
        assert.equal(samples.get('quandex_requests_total{model="fake",route="/v1/generate",status="200"}'), n);
        // Every request got a first token, a queue time and an end, once.
        for (const name of ["quandex_time_to_first_token_seconds", "quandex_e2e_request_latency_seconds", "quandex_queue_time_seconds", "quandex_time_per_output_token_seconds"]) {
            assert.equal(samples.get(`${name}_count{model="fake"}`), n, name);
            assert.ok((samples.get(`${name}_sum{model="fake"}`) ?? -1) >= 0, name);
        }
        assert.equal(samples.get('quandex_model_state{model="fake",state="ready"}'), 1);
        assert.equal(samples.get('quandex_model_state{model="fake",state="error"}'), 0);
        assert.equal(samples.get('quandex_model_loads_total{model="fake",result="success"}'), 1);
        assert.equal(samples.get('quandex_requests_running{model="fake"}'), 0);
        assert.equal(samples.get('quandex_requests_waiting{model="fake"}'), 0);
        assert.ok(samples.has('quandex_model_memory_bytes{model="fake",kind="ram"}'));
        assert.equal(samples.get("quandex_model_evictions_total"), 0);
        // Node's default process metrics are on.
        assert.ok(samples.has("process_resident_memory_bytes") || samples.has("nodejs_heap_size_used_bytes"));
        assert.ok([...samples.keys()].some((name) => name.startsWith("nodejs_eventloop_lag_seconds")));
    });

    it("counts a failed load and shows the model in error", async () => {
        const res = await o.app.inject({
            method: "POST",
            url: "/v1/generate",
            headers: { ...bearer(o.keys.generate), ...json },
            payload: JSON.stringify({ model: "broken", prompt: "x" })
        });
        assert.ok(res.statusCode >= 400, res.body);
        const { samples } = await scrape();
        assert.equal(samples.get('quandex_model_loads_total{model="broken",result="error"}'), 1);
        assert.equal(samples.get('quandex_model_state{model="broken",state="error"}'), 1);
        assert.equal(samples.get(`quandex_requests_total{model="broken",route="/v1/generate",status="${res.statusCode}"}`), 1);
    });

    it("counts 429s by key and reason", async () => {
        let refused = 0;
        for (let i = 0; i < 6; i++) {
            const res = await o.app.inject({ method: "GET", url: "/v1/models", headers: bearer(o.keys.limited) });
            if (res.statusCode === 429) refused++;
        }
        assert.ok(refused >= 1, "the limited key (burst 2) was refused");
        const { samples } = await scrape();
        assert.equal(samples.get(`quandex_rate_limited_total{key_id="${o.keys.limitedId}",reason="rate"}`), refused);
        assert.equal(samples.get('quandex_requests_total{model="",route="/v1/models",status="429"}'), refused);
    });

    it("needs a key with the metrics or admin scope: 401 without one, 403 for another scope", async () => {
        const none = await o.app.inject({ method: "GET", url: "/metrics" });
        assert.equal(none.statusCode, 401);
        assert.equal((none.json() as { error: { code: string } }).error.code, "invalid_api_key");
        const wrong = await o.app.inject({ method: "GET", url: "/metrics", headers: bearer(o.keys.generate) });
        assert.equal(wrong.statusCode, 403);
        const body = wrong.json() as { error: { code: string; message: string; type: string } };
        assert.equal(body.error.code, "insufficient_scope");
        assert.match(body.error.message, /'metrics'/);
        await scrape(o.keys.admin);
        // A metrics key reads nothing else.
        assert.equal((await o.app.inject({ method: "GET", url: "/v1/stats", headers: bearer(o.keys.metrics) })).statusCode, 403);
        assert.equal((await o.app.inject({ method: "POST", url: "/metrics", headers: bearer(o.keys.metrics) })).statusCode, 405);
    });

    // A missing binary is the one allowed skip, printed; under CI it is a failure (allowedSkip throws).
    const promtoolSkip = spawnSync("promtool", ["--version"], { stdio: "ignore" }).error
        ? allowedSkip("promtool is not installed (Debian package prometheus; scripts/setup.sh installs it)")
        : false;
    it("passes promtool check metrics", { skip: promtoolSkip }, async () => {
        const { text } = await scrape();
        const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
        assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
        assert.equal(check.stdout.trim() + check.stderr.trim(), "", "no lint warnings");
    });
});

describe("server.metrics", () => {
    it("auth none serves /metrics without a key", async () => {
        const o = await createObsApp({ engine: new FakeEngine(), files: { "fake.gguf": model }, metrics: { enabled: true, auth: "none" } });
        try {
            const res = await o.app.inject({ method: "GET", url: "/metrics" });
            assert.equal(res.statusCode, 200);
            assert.match(res.body, /# TYPE quandex_requests_total counter/);
        } finally {
            await o.close();
        }
    });

    it("enabled false answers 404 route_not_found", async () => {
        const o = await createObsApp({ engine: new FakeEngine(), files: { "fake.gguf": model }, metrics: { enabled: false, auth: "key" } });
        try {
            const res = await o.app.inject({ method: "GET", url: "/metrics", headers: bearer(o.keys.admin) });
            assert.equal(res.statusCode, 404);
            assert.equal((res.json() as { error: { code: string } }).error.code, "route_not_found");
        } finally {
            await o.close();
        }
    });

    it("two apps in one process keep their own figures", async () => {
        const a = await createObsApp({ engine: new FakeEngine(), files: { "fake.gguf": model } });
        const b = await createObsApp({ engine: new FakeEngine(), files: { "fake.gguf": model } });
        try {
            await a.app.inject({ method: "GET", url: "/v1/models", headers: bearer(a.keys.read) });
            const sa = parseExposition((await a.app.inject({ method: "GET", url: "/metrics", headers: bearer(a.keys.metrics) })).body);
            const sb = parseExposition((await b.app.inject({ method: "GET", url: "/metrics", headers: bearer(b.keys.metrics) })).body);
            assert.equal(sa.get('quandex_requests_total{model="",route="/v1/models",status="200"}'), 1);
            assert.equal(sb.get('quandex_requests_total{model="",route="/v1/models",status="200"}'), undefined);
        } finally {
            await a.close();
            await b.close();
        }
    });
});
