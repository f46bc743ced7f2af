import Database from "better-sqlite3";
import { join } from "node:path";
import { generateOnce } from "./generateOnce.js";
import { soakFigure, type SoakFigure } from "./SoakFigure.js";
import { SoakServer, type SoakEngine } from "./SoakServer.js";
import type { SoakSizes } from "./soakSizes.js";
import { startRedis } from "./startRedis.js";

export type CrashRestartOptions = {
    workDir: string;
    modelPath: string;
    modelId: string;
    engine: SoakEngine;
    engineName: string;
    store: "sqlite" | "redis";
    sizes: SoakSizes;
    seed: number;
};

/**
 * `kill -9` of the server in the middle of a burst of requests on a key with a daily quota, then
 * a restart on the same store. Pass: every request the client got a 200 for is still counted
 * (the usage shows at least that many, and after the restart the key gets no more than what is
 * left of its quota), every key is still there, and the SQLite database passes `integrity_check`.
 */
export async function crashRestartScenario(options: CrashRestartOptions): Promise<SoakFigure> {
    const redis = options.store === "redis" ? await startRedis() : null;
    const quota = options.sizes.crashQuota;
    const failures: string[] = [];
    try {
        const server = await SoakServer.create({
            workDir: options.workDir,
            modelPath: options.modelPath,
            modelId: options.modelId,
            engine: options.engine,
            parallel: 4,
            contextSize: 256,
            maxQueue: 64,
            ...(redis !== null && { redisUrl: redis.url })
        });
        const admin = await server.createKey("soak-admin", "generate,read,admin", ["--unlimited"]);
        await server.start(admin.key);
        // The other keys through the admin API: quicker than a CLI process each, and the same store.
        const createKey = async (name: string, scopes: string[], limits: Record<string, number> = {}): Promise<{ id: string; key: string }> => {
            const response = await fetch(`${server.baseUrl}/v1/admin/keys`, {
                method: "POST",
                headers: {
                    authorization: `Bearer ${admin.key}`,
                    "content-type": "application/json"
                },
                body: JSON.stringify({ name, scopes, ...limits })
            });
            if (response.status !== 201) throw new Error(`POST /v1/admin/keys: HTTP ${response.status} ${await response.text()}`);
            return (await response.json()) as { id: string; key: string };
        };
        const limited = await createKey("soak-quota", ["generate", "read"], {
            daily: quota,
            rps: 1000,
            burst: 1000
        });
        const others = await Promise.all(Array.from({ length: 3 }, (_, i) => createKey(`soak-other-${i}`, ["read"])));
        const keyIds = [admin.id, limited.id, ...others.map((k) => k.id)];

        // The burst: 4 clients until half the quota is answered, then SIGKILL with requests in flight.
        const body = {
            model: options.modelId,
            prompt: "Once upon a time",
            max_tokens: 8,
            temperature: 0
        };
        let okBefore = 0;
        let killed = false;
        const burst = async (): Promise<void> => {
            while (!killed) {
                const answer = await generateOnce(server.baseUrl, limited.key, body).catch(() => null);
                if (answer?.ok && !killed) okBefore++;
                if (okBefore >= quota / 2 && !killed) {
                    killed = true;
                    await server.stop("SIGKILL");
                }
            }
        };
        await Promise.all(Array.from({ length: 4 }, burst));

        await server.start(admin.key);
        const listed = (await (
            await fetch(`${server.baseUrl}/v1/admin/keys`, {
                headers: { authorization: `Bearer ${admin.key}` }
            })
        ).json()) as { data: Array<{ id: string }> };
        const lostKeys = keyIds.filter((id) => !listed.data.some((k) => k.id === id));
        if (lostKeys.length > 0) failures.push(`keys lost in the crash: ${lostKeys.join(", ")}`);
        const usage = (await (
            await fetch(`${server.baseUrl}/v1/usage?key_id=${limited.id}`, {
                headers: { authorization: `Bearer ${admin.key}` }
            })
        ).json()) as { data: Array<{ requests: number }> };
        const counted = usage.data[0]?.requests ?? 0;
        if (counted < okBefore) failures.push(`${okBefore - counted} answered request(s) were no longer counted after the restart (${counted} counted, ${okBefore} answered)`);

        // What is left of the quota: the key must be refused once the answered requests reach it.
        let okAfter = 0;
        let refusal: string | null = null;
        while (refusal === null && okBefore + okAfter <= quota + 5) {
            const answer = await generateOnce(server.baseUrl, limited.key, body);
            if (answer.ok) okAfter++;
            else refusal = `${answer.status} ${answer.code}`;
        }
        if (refusal !== "429 daily_quota_exceeded") failures.push(`after ${okAfter} more requests the key got ${refusal ?? "no refusal"}, not 429 daily_quota_exceeded`);
        if (okBefore + okAfter > quota) failures.push(`${okBefore + okAfter} requests answered on a daily quota of ${quota}`);
        await server.stop();

        let integrity: string | null = null;
        if (options.store === "sqlite") {
            const db = new Database(join(server.dataDir, "quandex.db"), {
                readonly: true
            });
            try {
                integrity = (db.pragma("integrity_check", { simple: true }) as string) ?? null;
            } finally {
                db.close();
            }
            if (integrity !== "ok") failures.push(`PRAGMA integrity_check: ${integrity}`);
        }
        return soakFigure(
            "crash-restart",
            `${options.engineName}, ${options.store}`,
            {
                daily_quota: quota,
                answered_before_kill: okBefore,
                counted_after_restart: counted,
                answered_after_restart: okAfter,
                keys: keyIds.length,
                keys_lost: lostKeys.length,
                integrity_check: integrity ?? "n/a (redis)"
            },
            failures
        );
    } finally {
        await redis?.stop();
    }
}
