import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { allowedSkip, requireTestModel } from "@quandex/test-support";
import { RedisServer } from "../limits/redisServer.js";
import { runCli, startServerProcess, type ServerProcess } from "../support/serverProcess.js";
import { NginxProcess } from "./NginxProcess.js";

// Two Quandex replicas sharing a real redis-server, behind Debian's nginx running
// deploy/nginx/quandex.conf: the seed's limits hold across both, a revocation on one is seen on
// the other, and /v1/stats?scope=cluster adds up what both publish.
const model = requireTestModel();
const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), "qdx-rep-"));
const nginxBinary = NginxProcess.binary();
const missing = !RedisServer.available() ? "redis-server is not installed" : nginxBinary === null ? "nginx is not installed" : null;
const skip = missing ? allowedSkip(`${missing} (scripts/setup.sh installs it)`) : false;

describe("two replicas behind nginx, sharing Redis", { skip }, () => {
    let redis: RedisServer;
    let a: ServerProcess;
    let b: ServerProcess;
    let nginx: NginxProcess;
    let admin: { id: string; key: string };

    const createKey = async (args: string[]): Promise<{ id: string; key: string }> => {
        const res = await runCli(["keys", "create", "--name", "t", "--json", "--redis-url", redis.url, ...args]);
        assert.equal(res.code, 0, res.stderr);
        return JSON.parse(res.stdout) as { id: string; key: string };
    };
    const generate = (url: string, key: string): Promise<Response> =>
        fetch(`${url}/v1/generate`, {
            method: "POST",
            headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
            body: JSON.stringify({ model: "m", prompt: "x", max_tokens: 1 })
        });
    const list = (url: string, key: string): Promise<number> =>
        fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } }).then(async (r) => (await r.arrayBuffer(), r.status));

    before(async () => {
        redis = await RedisServer.start();
        const models = tmp();
        copyFileSync(model, path.join(models, "m.gguf"));
        [a, b] = await Promise.all([
            startServerProcess(["--models-dir", models, "--data-dir", tmp(), "--redis-url", redis.url]),
            startServerProcess(["--models-dir", models, "--data-dir", tmp(), "--redis-url", redis.url])
        ]);
        nginx = await NginxProcess.start(nginxBinary!, [a.url, b.url]);
        admin = await createKey(["--scopes", "admin", "--unlimited"]);
        // Both replicas load the model before the timed parts.
        for (const url of [a.url, b.url]) assert.equal((await generate(url, admin.key)).status, 200);
    });

    after(async () => {
        await nginx?.stop();
        await a?.stop();
        await b?.stop();
        await redis?.stop();
    });

    it("a key of 10 rps and 20 burst gets exactly that through the balancer, across both replicas", async (t) => {
        const { key } = await createKey(["--rps", "10", "--burst", "20"]);
        const started = performance.now();
        const burst = await Promise.all(Array.from({ length: 40 }, () => list(nginx.url, key)));
        const spread = (performance.now() - started) / 1000;
        const admitted = burst.filter((s) => s === 200).length;
        assert.equal(burst.filter((s) => s !== 200 && s !== 429).length, 0, JSON.stringify(burst));
        assert.ok(admitted >= 20 && admitted <= 20 + Math.ceil(spread * 10), `burst: ${admitted} admitted of 40 in ${spread.toFixed(2)} s`);
        // Then a steady 40 rps for 2 s: the bucket refills at 10 per second, shared by both replicas.
        const emptiedAt = performance.now();
        let steady = 0;
        const sends: Array<Promise<void>> = [];
        for (let i = 0; i < 80; i++) {
            sends.push(list(nginx.url, key).then((s) => void (s === 200 && steady++)));
            await sleep(25);
        }
        await Promise.all(sends);
        const seconds = (performance.now() - emptiedAt) / 1000;
        t.diagnostic(`burst: ${admitted} of 40 admitted in ${spread.toFixed(2)} s; steady: ${steady} admitted in ${seconds.toFixed(2)} s at 40 rps offered`);
        assert.ok(Math.abs(steady - 10 * seconds) <= 2, `steady: ${steady} admitted in ${seconds.toFixed(2)} s, expected ${(10 * seconds).toFixed(1)}`);
    });

    it("a daily quota of 25 admits exactly 25 generations through the balancer", async () => {
        const { key } = await createKey(["--rps", "1000", "--burst", "1000", "--daily", "25"]);
        const statuses: number[] = [];
        const codes = new Set<string>();
        for (let round = 0; round < 5; round++) {
            const answers = await Promise.all(Array.from({ length: 8 }, () => generate(nginx.url, key)));
            for (const res of answers) {
                statuses.push(res.status);
                const body = (await res.json()) as { error?: { code: string } };
                if (body.error) codes.add(body.error.code);
            }
        }
        assert.equal(statuses.filter((s) => s === 200).length, 25, JSON.stringify(statuses));
        assert.equal(statuses.filter((s) => s === 429).length, 15);
        assert.deepEqual([...codes], ["daily_quota_exceeded"]);
    });

    it("a key revoked on one replica is refused by the other within 1 s", async (t) => {
        const victim = await createKey([]);
        assert.equal(await list(b.url, victim.key), 200);
        const revoke = await fetch(`${a.url}/v1/admin/keys/${victim.id}`, { method: "DELETE", headers: { authorization: `Bearer ${admin.key}` } });
        assert.ok(revoke.status < 300, `revoke answered ${revoke.status}: ${await revoke.text()}`);
        const revokedAt = performance.now();
        let status = 200;
        while (status === 200 && performance.now() - revokedAt < 2_000) {
            status = await list(b.url, victim.key);
            if (status === 200) await sleep(20);
        }
        const tookMs = performance.now() - revokedAt;
        t.diagnostic(`revocation on one replica seen on the other after ${tookMs.toFixed(1)} ms`);
        assert.equal(status, 401);
        assert.ok(tookMs < 1_000, `seen on the other replica after ${tookMs.toFixed(0)} ms`);
    });

    it("/v1/stats?scope=cluster lists both replicas and sums their counters", async () => {
        // Replicas publish about once a second; wait for a round after the traffic above.
        await sleep(1_500);
        const stats = async (
            url: string,
            query = ""
        ): Promise<{
            models: Record<string, { requests_total: number }>;
            cluster?: { replicas: Array<{ id: string }>; models: Record<string, { requests_total: number; replicas: number }> };
        }> => {
            const res = await fetch(`${url}/v1/stats${query}`, { headers: { authorization: `Bearer ${admin.key}` } });
            assert.equal(res.status, 200, await res.clone().text());
            return (await res.json()) as never;
        };
        const [own, other, cluster] = await Promise.all([stats(a.url), stats(b.url), stats(nginx.url, "?scope=cluster")]);
        assert.equal(own.cluster, undefined, "only asked for");
        assert.equal(cluster.cluster!.replicas.length, 2);
        assert.equal(cluster.cluster!.models.m!.replicas, 2);
        assert.equal(cluster.cluster!.models.m!.requests_total, own.models.m!.requests_total + other.models.m!.requests_total);
        assert.ok(own.models.m!.requests_total > 0 && other.models.m!.requests_total > 0, "the balancer sent generations to both");
    });
});
