import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { APIError, QuandexClient } from "../src/index.js";
import { errorResponse, jsonResponse, recordingSleep, scriptedFetch } from "./helpers/fakeFetch.js";

const record = {
    id: "key_abc",
    name: "app",
    prefix: "qdx_abcdef",
    scopes: ["read"],
    created_at: "2026-12-07T00:00:00.000Z",
    revoked_at: null,
    rps: null,
    burst: null,
    daily: null,
    unlimited: false,
    expires_at: null,
    last_used_at: null,
    previous_key_expires_at: null
};
const make = (fetchImpl: typeof fetch) => new QuandexClient({ apiKey: "qdx_admin", baseURL: "http://quandex.test/v1", fetch: fetchImpl, sleep: recordingSleep().sleep });

describe("key administration", () => {
    it("createKey sends expires_at and returns the secret", async () => {
        const script = scriptedFetch(jsonResponse(201, { ...record, expires_at: "2027-01-01T00:00:00.000Z", key: "qdx_secret" }));
        const created = await make(script.fetch).createKey({ name: "app", scopes: ["read"], expires_at: "2027-01-01T00:00:00Z" });
        assert.equal(created.key, "qdx_secret");
        assert.equal(script.requests[0]!.url, "http://quandex.test/v1/admin/keys");
        assert.deepEqual(script.requests[0]!.body, { name: "app", scopes: ["read"], expires_at: "2027-01-01T00:00:00Z" });
    });

    it("rotateKey sends the grace, escapes the id, and is not retried", async () => {
        const script = scriptedFetch(jsonResponse(200, { ...record, key: "qdx_new", previous_key_expires_at: "2026-12-07T01:00:00.000Z" }));
        const rotated = await make(script.fetch).rotateKey("key/x", { grace_seconds: 0 });
        assert.equal(rotated.key, "qdx_new");
        assert.equal(script.requests[0]!.method, "POST");
        assert.equal(script.requests[0]!.url, "http://quandex.test/v1/admin/keys/key%2Fx/rotate");
        assert.deepEqual(script.requests[0]!.body, { grace_seconds: 0 });
        const busy = scriptedFetch(errorResponse(503, "server_busy", "service_unavailable"));
        await assert.rejects(make(busy.fetch).rotateKey("key_abc"), APIError);
        assert.equal(busy.requests.length, 1, "a second rotation would end the grace of the secret in use");
    });

    it("listKeys and revokeKey", async () => {
        const script = scriptedFetch(jsonResponse(200, { object: "list", data: [record] }), jsonResponse(200, { ...record, revoked_at: "2026-12-07T00:02:00.000Z" }));
        const client = make(script.fetch);
        assert.equal((await client.listKeys())[0]!.id, "key_abc");
        assert.ok((await client.revokeKey("key_abc")).revoked_at);
        assert.deepEqual(
            script.requests.map((r) => `${r.method} ${r.url}`),
            ["GET http://quandex.test/v1/admin/keys", "DELETE http://quandex.test/v1/admin/keys/key_abc"]
        );
    });
});
