import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { FakeEngine } from "@quandex/engine/testing";
import { allowedSkip } from "@quandex/test-support";
import type { KeyStore } from "../../src/keys/ApiKey.js";
import { RedisKeyStore } from "../../src/keys/RedisKeyStore.js";
import { SqliteKeyStore } from "../../src/keys/SqliteKeyStore.js";
import { openDatabase } from "../../src/storage/openDatabase.js";
import { RedisServer } from "../limits/redisServer.js";
import { auth, createHarness, type Harness } from "../support/harness.js";

/** Expiry, rotation with a grace period, and last use, the same in both stores; `advance` moves their clock. */
function keyLifecycleContract(name: string, open: () => Promise<{ store: KeyStore; advance(ms: number): void; close(): Promise<void> }>, skip: string | false): void {
    describe(`${name}: key expiry, rotation and last use`, { skip }, () => {
        it("an expired key stops working; a key without expiry keeps working", async () => {
            const { store, advance, close } = await open();
            try {
                const soon = new Date(Date.now() + 60_000).toISOString();
                const expiring = await store.create({ name: "e", scopes: ["read"], expiresAt: soon });
                const forever = await store.create({ name: "f", scopes: ["read"] });
                assert.equal(expiring.record.expiresAt, soon);
                assert.equal((await store.authenticate(expiring.secret))?.id, expiring.record.id);
                advance(61_000);
                assert.equal(await store.authenticate(expiring.secret), undefined, "past expires_at");
                assert.equal((await store.authenticate(forever.secret))?.id, forever.record.id);
                const extended = await store.update(expiring.record.id, { expiresAt: null });
                assert.equal(extended?.expiresAt, null);
                assert.equal((await store.authenticate(expiring.secret))?.id, expiring.record.id, "clearing the expiry revives it");
            } finally {
                await close();
            }
        });

        it("rotation: the new secret works at once, the old one during the grace only; rotating again ends the earlier grace", async () => {
            const { store, advance, close } = await open();
            try {
                const { record, secret: first } = await store.create({ name: "r", scopes: ["read"] });
                const rotated = (await store.rotate(record.id, 10_000))!;
                assert.notEqual(rotated.secret, first);
                assert.notEqual(rotated.record.prefix, record.prefix, "the listing shows the new secret's prefix");
                assert.ok(rotated.record.previousSecretExpiresAt !== null);
                assert.equal((await store.authenticate(rotated.secret))?.id, record.id);
                assert.equal((await store.authenticate(first))?.id, record.id, "the old secret works during the grace");
                advance(10_001);
                assert.equal(await store.authenticate(first), undefined, "and not after it");
                assert.equal((await store.get(record.id))?.previousSecretExpiresAt, null);
                const again = (await store.rotate(record.id, 60_000))!;
                const third = (await store.rotate(record.id, 60_000))!;
                assert.equal(await store.authenticate(rotated.secret), undefined, "only the last replaced secret keeps a grace");
                assert.equal((await store.authenticate(again.secret))?.id, record.id, "the one the last rotation replaced");
                assert.equal((await store.authenticate(third.secret))?.id, record.id);
                const immediate = (await store.rotate(record.id, 0))!;
                assert.equal(await store.authenticate(third.secret), undefined, "grace 0 ends the old secret at once");
                assert.equal((await store.authenticate(immediate.secret))?.id, record.id);
                assert.equal(await store.rotate("key_missing", 1000), undefined);
                await store.revoke(record.id);
                assert.equal(await store.rotate(record.id, 1000), undefined, "a revoked key cannot be rotated back to life");
                assert.equal(await store.authenticate(immediate.secret), undefined);
            } finally {
                await close();
            }
        });

        it("last_used_at is recorded on authentication, at most once a minute", async () => {
            const { store, advance, close } = await open();
            try {
                const { record, secret } = await store.create({ name: "u", scopes: ["read"] });
                assert.equal(record.lastUsedAt, null);
                await store.authenticate(secret);
                await new Promise((resolve) => setTimeout(resolve, 50));
                const first = (await store.get(record.id))!.lastUsedAt;
                assert.ok(first !== null);
                advance(30_000);
                await store.authenticate(secret);
                await new Promise((resolve) => setTimeout(resolve, 50));
                assert.equal((await store.get(record.id))!.lastUsedAt, first, "not rewritten within the minute");
                advance(31_000);
                await store.authenticate(secret);
                await new Promise((resolve) => setTimeout(resolve, 50));
                assert.ok(Date.parse((await store.get(record.id))!.lastUsedAt!) > Date.parse(first!));
            } finally {
                await close();
            }
        });
    });
}

/** A clock the test moves, starting now. */
function testClock(): { now: () => number; advance(ms: number): void } {
    let offset = 0;
    return { now: () => Date.now() + offset, advance: (ms) => void (offset += ms) };
}

keyLifecycleContract(
    "SQLite",
    async () => {
        const clock = testClock();
        const db = openDatabase(mkdtempSync(path.join(os.tmpdir(), "qdx-keys-")));
        return { store: new SqliteKeyStore(db, clock.now), advance: clock.advance, close: async () => void db.close() };
    },
    false
);

const redisSkip = RedisServer.available() ? false : allowedSkip("redis-server is not installed (scripts/setup.sh installs it)");
let redis: RedisServer | undefined;
let prefixCounter = 0;
keyLifecycleContract(
    "Redis",
    async () => {
        redis ??= await RedisServer.start();
        const clock = testClock();
        const store = await RedisKeyStore.connect(redis.url, { prefix: `t${prefixCounter++}:`, clock: clock.now });
        return { store, advance: clock.advance, close: () => store.dispose() };
    },
    redisSkip
);
after(async () => redis?.stop());

describe("POST /v1/admin/keys/{id}/rotate and expires_at over HTTP", () => {
    let h: Harness;
    before(async () => {
        h = await createHarness({ engine: new FakeEngine() });
    });
    after(() => h.close());
    const admin = () => ({ ...auth(h.keys.admin), "content-type": "application/json" });

    it("rotates with the documented default grace, and the answer carries the new secret once", async () => {
        const created = (await h.app.inject({ method: "POST", url: "/v1/admin/keys", headers: admin(), payload: { name: "app", scopes: ["read"] } })).json() as {
            id: string;
            key: string;
        };
        const started = Date.now();
        const res = await h.app.inject({ method: "POST", url: `/v1/admin/keys/${created.id}/rotate`, headers: auth(h.keys.admin) });
        assert.equal(res.statusCode, 200, res.body);
        const rotated = res.json() as { id: string; key: string; previous_key_expires_at: string; last_used_at: string | null };
        assert.equal(rotated.id, created.id);
        const grace = Date.parse(rotated.previous_key_expires_at) - started;
        assert.ok(grace > 3_590_000 && grace <= 3_601_000, `default grace is an hour, got ${grace} ms`);
        for (const secret of [rotated.key, created.key]) assert.equal((await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(secret) })).statusCode, 200);
        const listed = (await h.app.inject({ method: "GET", url: "/v1/admin/keys", headers: auth(h.keys.admin) })).json() as { data: Array<Record<string, unknown>> };
        const entry = listed.data.find((k) => k.id === created.id)!;
        assert.equal(entry.key, undefined, "listings never carry a secret");
        assert.ok(typeof entry.last_used_at === "string", "last_used_at is listed");
        const now = await h.app.inject({ method: "POST", url: `/v1/admin/keys/${created.id}/rotate`, headers: admin(), payload: { grace_seconds: 0 } });
        assert.equal(now.statusCode, 200);
        assert.equal((await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(rotated.key) })).statusCode, 401);
        assert.equal((await h.app.inject({ method: "POST", url: "/v1/admin/keys/key_none/rotate", headers: auth(h.keys.admin) })).statusCode, 404);
        assert.equal((await h.app.inject({ method: "POST", url: `/v1/admin/keys/${created.id}/rotate`, headers: admin(), payload: { grace_seconds: -1 } })).statusCode, 400);
        assert.equal((await h.app.inject({ method: "POST", url: `/v1/admin/keys/${created.id}/rotate`, headers: auth(h.keys.generate) })).statusCode, 403);
    });

    it("expires_at: in the past is refused on create; set to the past it stops the key at once", async () => {
        const past = await h.app.inject({ method: "POST", url: "/v1/admin/keys", headers: admin(), payload: { name: "p", expires_at: "2001-01-01T00:00:00Z" } });
        assert.equal(past.statusCode, 400);
        const bad = await h.app.inject({ method: "POST", url: "/v1/admin/keys", headers: admin(), payload: { name: "p", expires_at: "tomorrow" } });
        assert.equal(bad.statusCode, 400);
        const later = new Date(Date.now() + 86_400_000).toISOString();
        const created = (await h.app.inject({ method: "POST", url: "/v1/admin/keys", headers: admin(), payload: { name: "p", scopes: ["read"], expires_at: later } })).json() as {
            id: string;
            key: string;
            expires_at: string;
        };
        assert.equal(created.expires_at, later);
        assert.equal((await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(created.key) })).statusCode, 200);
        const patched = await h.app.inject({
            method: "PATCH",
            url: `/v1/admin/keys/${created.id}`,
            headers: admin(),
            payload: { expires_at: new Date(Date.now() - 1000).toISOString() }
        });
        assert.equal(patched.statusCode, 200);
        const refused = await h.app.inject({ method: "GET", url: "/v1/models", headers: auth(created.key) });
        assert.equal(refused.statusCode, 401);
        assert.ok(!refused.body.includes(created.key), "an error never echoes the key");
        assert.match(refused.body, /expired/);
    });
});
