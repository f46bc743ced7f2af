import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon, { type AutocannonResult } from "autocannon";
import { median } from "./metrics.js";
import { benchDir } from "./paths.js";
import { freePort, startChildServer, stopChildServer, waitFor } from "./process/childServer.js";

export type AutocannonSummary = {
    url: string;
    /** Mean of autocannon's per-second request counts. */
    requestsPerSec: number;
    totalRequests: number;
    latencyP50Ms: number;
    latencyP99Ms: number;
    non2xx: number;
    errors: number;
};

export type ControlPlaneResult = {
    connections: number;
    durationS: number;
    /**
     * `GET /v1/models` on the Quandex server with a key that has limits (rps and burst 1,000,000,
     * daily 1,000,000): every request takes a rate token and reads the daily count, and the answer
     * carries the six `X-RateLimit-*` headers. The target is judged on this one.
     */
    models: AutocannonSummary;
    /** The same with the bench's `--unlimited` key, which skips the limit steps (shown alongside). */
    modelsUnlimitedKey: AutocannonSummary | null;
    /** `GET /hello` on a bare Fastify app in its own process. */
    helloWorld: AutocannonSummary;
    /** Median of the rounds' ratios (`roundRatios`); each round measures all three targets in turn. */
    ratio: number;
    /** Each round's /v1/models (key with limits) ÷ hello-world; absent in runs recorded before rounds. */
    roundRatios?: number[];
};

export type ControlPlaneOptions = {
    /** Quandex origin, without `/v1`. */
    baseUrl: string;
    /** The bench's key: `admin` scope, so it can create the rate-limited key measured here. */
    apiKey: string;
    /** autocannon connections for both targets. Defaults to 10. */
    connections?: number;
    /** Seconds measured per target. Defaults to 5. */
    durationS?: number;
    /** Unmeasured seconds run first against each target (JIT, connection set-up). Defaults to 1. */
    warmupS?: number;
    /**
     * Times all three targets are measured, one after another. Back-to-back 5 s runs on this
     * machine varied by ±8% each, so each summary is the median round and the ratio the median of
     * the rounds' ratios. Defaults to 3.
     */
    rounds?: number;
};

/**
 * Control-plane overhead: the server's authenticated `GET /v1/models` against a hello-world Fastify
 * app, with the same autocannon settings, one target at a time, `rounds` times in turn.
 */
export async function runControlPlaneBench({ baseUrl, apiKey, connections = 10, durationS = 5, warmupS = 1, rounds = 3 }: ControlPlaneOptions): Promise<ControlPlaneResult> {
    const measure = async (url: string, headers: Record<string, string>): Promise<AutocannonSummary> => {
        if (warmupS > 0) await autocannon({ url, connections, duration: warmupS, headers });
        return summarize(url, await autocannon({ url, connections, duration: durationS, headers }));
    };
    const limitedKey = await createLimitedKey(baseUrl, apiKey);
    const logDir = await mkdtemp(join(tmpdir(), "quandex-bench-hello-"));
    const port = await freePort();
    const hello = startChildServer(["--import", "tsx", join(benchDir, "src/process/helloServer.ts"), String(port)], {
        logPath: join(logDir, "hello.log"),
        cwd: benchDir
    });
    try {
        const helloUrl = `http://127.0.0.1:${port}/hello`;
        await waitFor(hello, "the hello-world server", async () => ((await fetch(helloUrl)).ok ? true : undefined), 30_000);
        const models: AutocannonSummary[] = [];
        const unlimited: AutocannonSummary[] = [];
        const helloWorld: AutocannonSummary[] = [];
        for (let round = 0; round < Math.max(1, rounds); round++) {
            models.push(await measure(`${baseUrl}/v1/models`, { authorization: `Bearer ${limitedKey}` }));
            unlimited.push(await measure(`${baseUrl}/v1/models`, { authorization: `Bearer ${apiKey}` }));
            helloWorld.push(await measure(helloUrl, {}));
        }
        const roundRatios = models.map((m, i) => m.requestsPerSec / helloWorld[i]!.requestsPerSec);
        return {
            connections,
            durationS,
            models: mergeSummaries(models),
            modelsUnlimitedKey: mergeSummaries(unlimited),
            helloWorld: mergeSummaries(helloWorld),
            ratio: median(roundRatios),
            roundRatios
        };
    } finally {
        await stopChildServer(hello);
        await rm(logDir, { recursive: true, force: true });
    }
}

/** One target's rounds: the median of each rate and latency, and every request, failure and error counted. */
export function mergeSummaries(rounds: readonly AutocannonSummary[]): AutocannonSummary {
    const sum = (pick: (s: AutocannonSummary) => number): number => rounds.reduce((total, s) => total + pick(s), 0);
    return {
        url: rounds[0]!.url,
        requestsPerSec: median(rounds.map((s) => s.requestsPerSec)),
        totalRequests: sum((s) => s.totalRequests),
        latencyP50Ms: median(rounds.map((s) => s.latencyP50Ms)),
        latencyP99Ms: median(rounds.map((s) => s.latencyP99Ms)),
        non2xx: sum((s) => s.non2xx),
        errors: sum((s) => s.errors)
    };
}

function summarize(url: string, result: AutocannonResult): AutocannonSummary {
    return {
        url,
        requestsPerSec: result.requests.average,
        totalRequests: result.requests.total,
        latencyP50Ms: result.latency.p50,
        latencyP99Ms: result.latency.p99,
        non2xx: result.non2xx,
        errors: result.errors
    };
}

/** A `read` key whose limits apply but never refuse during the run, made through the admin API. */
async function createLimitedKey(baseUrl: string, adminKey: string): Promise<string> {
    const response = await fetch(`${baseUrl}/v1/admin/keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "bench-control-plane", scopes: ["read"], rps: 1_000_000, burst: 1_000_000, daily: 1_000_000 })
    });
    if (response.status !== 201) throw new Error(`POST /v1/admin/keys: HTTP ${response.status} ${await response.text()}`);
    return ((await response.json()) as { key: string }).key;
}
