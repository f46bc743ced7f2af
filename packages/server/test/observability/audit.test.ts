import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { FakeEngine } from "@quandex/engine/testing";
import { allowedSkip, requireTestModel } from "@quandex/test-support";
import { loadConfig } from "../../src/config/loadConfig.js";
import { recordConfigChange } from "../../src/observability/recordConfigChange.js";
import type { AuditLog } from "../../src/storage/AuditLog.js";
import { openDatabase } from "../../src/storage/openDatabase.js";
import { RedisAuditLog } from "../../src/storage/RedisAuditLog.js";
import { SqliteAuditLog } from "../../src/storage/SqliteAuditLog.js";
import { RedisServer } from "../limits/redisServer.js";
import { runCli } from "../support/serverProcess.js";
import { bearer, createObsApp, type ObsApp } from "./obsApp.js";

const model = requireTestModel();
const json = { "content-type": "application/json" };

interface AuditListJson {
    object: string;
    data: Array<{ id: number; action: string; actor: string; actor_name: string | null; target: string | null; request_id: string | null; detail: Record<string, unknown> }>;
    has_more: boolean;
    next_before: number | null;
}

describe("the audit log over HTTP", () => {
    let o: ObsApp;
    before(async () => {
        o = await createObsApp({ engine: new FakeEngine(), files: { "fake.gguf": model } });
    });
    after(async () => {
        await o.close();
    });
    const audit = async (query = ""): Promise<AuditListJson> => {
        const res = await o.app.inject({ method: "GET", url: `/v1/admin/audit${query}`, headers: bearer(o.keys.admin) });
        assert.equal(res.statusCode, 200, res.body);
        return res.json() as AuditListJson;
    };

    it("records key and model actions with who did them, newest first, and never a secret", async () => {
        const created = await o.app.inject({
            method: "POST",
            url: "/v1/admin/keys",
            headers: { ...bearer(o.keys.admin), ...json },
            payload: JSON.stringify({ name: "ci", scopes: ["metrics"] })
        });
        assert.equal(created.statusCode, 201, created.body);
        const newKey = created.json() as { id: string; key: string };
        const patched = await o.app.inject({
            method: "PATCH",
            url: `/v1/admin/keys/${newKey.id}`,
            headers: { ...bearer(o.keys.admin), ...json },
            payload: JSON.stringify({ rps: 5 })
        });
        assert.equal(patched.statusCode, 200, patched.body);
        assert.equal((await o.app.inject({ method: "DELETE", url: `/v1/admin/keys/${newKey.id}`, headers: bearer(o.keys.admin) })).statusCode, 200);
        assert.equal((await o.app.inject({ method: "POST", url: "/v1/models/fake/load", headers: bearer(o.keys.generate) })).statusCode, 202);
        assert.equal((await o.app.inject({ method: "POST", url: "/v1/models/fake/unload", headers: bearer(o.keys.admin) })).statusCode, 202);
        // A refused action is not one that happened.
        assert.equal((await o.app.inject({ method: "DELETE", url: "/v1/admin/keys/key_nope", headers: bearer(o.keys.admin) })).statusCode, 404);

        const page = await audit();
        assert.equal(page.object, "list");
        assert.deepEqual(
            page.data.map((e) => e.action),
            ["model.unloaded", "model.loaded", "key.revoked", "key.updated", "key.created"]
        );
        const [unloaded, loaded, revoked, updated, createdEntry] = page.data;
        assert.equal(createdEntry!.target, newKey.id);
        assert.equal(createdEntry!.actor, `key:${o.keys.adminId}`);
        assert.equal(createdEntry!.actor_name, "admin");
        assert.deepEqual(createdEntry!.detail, { name: "ci", scopes: ["metrics"] });
        assert.equal(createdEntry!.request_id, String(created.headers["x-request-id"]));
        assert.deepEqual(updated!.detail, { rps: 5 });
        assert.equal(revoked!.target, newKey.id);
        assert.equal(loaded!.actor, `key:${o.keys.generateId}`, "a generate key may warm a model up; it is recorded as who did");
        assert.equal(unloaded!.target, "fake");
        assert.ok(!JSON.stringify(page).includes(newKey.key), "the created key's secret is not in the audit log");
        assert.ok(page.data.every((e, i, all) => i === 0 || e.id < all[i - 1]!.id));
    });

    it("pages with ?limit and ?before", async () => {
        const all = await audit("?limit=500");
        assert.ok(all.data.length >= 5);
        const first = await audit("?limit=2");
        assert.equal(first.data.length, 2);
        assert.equal(first.has_more, true);
        assert.equal(first.next_before, first.data[1]!.id);
        const second = await audit(`?limit=2&before=${first.next_before}`);
        assert.deepEqual(
            [...first.data, ...second.data].map((e) => e.id),
            all.data.slice(0, 4).map((e) => e.id)
        );
        const last = await audit(`?before=${all.data[all.data.length - 1]!.id}`);
        assert.deepEqual(last, { object: "list", data: [], has_more: false, next_before: null });
    });

    it("answers the catalogue's errors: 401 without a key, 403 for another scope, 400 for bad paging", async () => {
        const none = await o.app.inject({ method: "GET", url: "/v1/admin/audit" });
        assert.equal(none.statusCode, 401);
        assert.equal((none.json() as { error: { code: string } }).error.code, "invalid_api_key");
        for (const key of [o.keys.generate, o.keys.read, o.keys.metrics]) {
            const res = await o.app.inject({ method: "GET", url: "/v1/admin/audit", headers: bearer(key) });
            assert.equal(res.statusCode, 403);
            assert.equal((res.json() as { error: { code: string } }).error.code, "insufficient_scope");
        }
        for (const [query, param] of [
            ["?limit=0", "limit"],
            ["?limit=501", "limit"],
            ["?limit=abc", "limit"],
            ["?limit=-1", "limit"],
            ["?before=0", "before"],
            ["?before=1.5", "before"],
            ["?before=99999999999999999999", "before"],
            ["?page=2", "page"]
        ] as const) {
            const res = await o.app.inject({ method: "GET", url: `/v1/admin/audit${query}`, headers: bearer(o.keys.admin) });
            assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
            const error = (res.json() as { error: { code: string; param: string | null } }).error;
            assert.equal(error.code, "invalid_parameter", query);
            assert.match(String(error.param), new RegExp(param), query);
        }
        assert.equal((await o.app.inject({ method: "DELETE", url: "/v1/admin/audit", headers: bearer(o.keys.admin) })).statusCode, 405);
    });
});

it("the audit log survives a restart on the same data dir", async () => {
    const dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), "qdx-audit-")), "data");
    const first = await createObsApp({ engine: new FakeEngine(), files: { "fake.gguf": model }, dataDir });
    const res = await first.app.inject({
        method: "POST",
        url: "/v1/admin/keys",
        headers: { ...bearer(first.keys.admin), ...json },
        payload: JSON.stringify({ name: "before restart" })
    });
    assert.equal(res.statusCode, 201);
    await first.close();
    const second = await createObsApp({ engine: new FakeEngine(), files: { "fake.gguf": model }, dataDir });
    try {
        const page = (await second.app.inject({ method: "GET", url: "/v1/admin/audit", headers: bearer(second.keys.admin) })).json() as AuditListJson;
        assert.ok(page.data.some((e) => e.action === "key.created" && e.detail.name === "before restart"));
    } finally {
        await second.close();
    }
});

/** What every audit store must do, run against SQLite and Redis. */
function auditLogContract(name: string, open: () => Promise<{ log: AuditLog; reopen(): Promise<AuditLog>; close(): Promise<void> }>, skip: string | false = false): void {
    describe(`${name} audit log`, { skip }, () => {
        it("appends, pages newest first, finds the latest of an action, and keeps entries when reopened", async () => {
            const store = await open();
            try {
                const base = { actor: "key:k1", actorName: "admin", requestId: "req_1", ip: "127.0.0.1" };
                const a = await store.log.record({ ...base, action: "key.created", target: "k2", detail: { name: "x" } });
                const b = await store.log.record({ ...base, action: "model.loaded", target: "m", detail: {} });
                const c = await store.log.record({ ...base, action: "key.created", target: "k3", detail: { name: "y" } });
                assert.ok(a.id < b.id && b.id < c.id);
                assert.match(a.at, /^\d{4}-\d{2}-\d{2}T/);
                const page = await store.log.list({ limit: 2 });
                assert.deepEqual(
                    page.entries.map((e) => e.id),
                    [c.id, b.id]
                );
                assert.equal(page.nextBefore, b.id);
                const rest = await store.log.list({ limit: 2, before: b.id });
                assert.deepEqual(rest.entries, [a]);
                assert.equal(rest.nextBefore, null);
                assert.deepEqual(await store.log.latest("key.created"), c);
                assert.equal(await store.log.latest("model.deleted"), undefined);
                const reopened = await store.reopen();
                assert.deepEqual((await reopened.list({ limit: 10 })).entries, [c, b, a]);
            } finally {
                await store.close();
            }
        });
    });
}

auditLogContract("SQLite", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "qdx-audit-sqlite-"));
    const dbs = [openDatabase(dir)];
    return {
        log: new SqliteAuditLog(dbs[0]!),
        async reopen() {
            const db = openDatabase(dir);
            dbs.push(db);
            return new SqliteAuditLog(db);
        },
        async close() {
            for (const db of dbs) db.close();
        }
    };
});

const redisSkip = RedisServer.available() ? false : allowedSkip("redis-server is not installed (scripts/setup.sh installs it)");
auditLogContract(
    "Redis",
    async () => {
        const redis = await RedisServer.start();
        const logs = [await RedisAuditLog.connect(redis.url)];
        return {
            log: logs[0]!,
            async reopen() {
                const log = await RedisAuditLog.connect(redis.url);
                logs.push(log);
                return log;
            },
            async close() {
                for (const log of logs) await log.dispose();
                await redis.stop();
            }
        };
    },
    redisSkip
);

describe("config changes", () => {
    it("are recorded at boot when the configuration differs from the last recorded one, without secrets", async () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "qdx-audit-config-"));
        const db = openDatabase(path.join(dir, "data"));
        try {
            const log = new SqliteAuditLog(db);
            const env = { QUANDEX_HOME: dir, HF_TOKEN: "hf_supersecret" };
            const first = await recordConfigChange(log, loadConfig({ env, flags: { port: "8001" } }));
            assert.equal(first?.action, "config.changed");
            assert.equal(await recordConfigChange(log, loadConfig({ env, flags: { port: "8001" } })), undefined, "the same configuration records nothing");
            const changed = await recordConfigChange(log, loadConfig({ env, flags: { port: "8002", logLevel: "warn" } }));
            assert.deepEqual(changed?.detail.changed, ["port", "logLevel"]);
            assert.equal(changed?.actor, "config");
            assert.ok(!JSON.stringify((await log.list({ limit: 10 })).entries).includes("hf_supersecret"));
            assert.equal((changed?.detail.config as { hfToken: unknown }).hfToken, "(set)");
        } finally {
            db.close();
        }
    });
});

it("key changes made with the quandex CLI are audited as cli, with the OS user", async () => {
    const dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), "qdx-audit-cli-")), "data");
    const created = await runCli(["keys", "create", "--data-dir", dataDir, "--name", "from-cli", "--scopes", "metrics", "--json"]);
    assert.equal(created.code, 0, created.stderr);
    const { id, key } = JSON.parse(created.stdout) as { id: string; key: string };
    const revoked = await runCli(["keys", "revoke", id, "--data-dir", dataDir]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const db = openDatabase(dataDir);
    try {
        const entries = (await new SqliteAuditLog(db).list({ limit: 10 })).entries;
        assert.deepEqual(
            entries.map((e) => [e.action, e.actor, e.target]),
            [
                ["key.revoked", "cli", id],
                ["key.created", "cli", id]
            ]
        );
        assert.equal(entries[1]!.actorName, os.userInfo().username);
        assert.deepEqual(entries[1]!.detail, { name: "from-cli", scopes: ["metrics"] });
        assert.ok(!JSON.stringify(entries).includes(key));
    } finally {
        db.close();
    }
});
