import assert from "node:assert/strict";
import { Agent, request } from "node:http";
import { connect, type Socket } from "node:net";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FakeEngine } from "@quandex/engine/testing";
import { auth, createHarness } from "../support/harness.js";

const limits = {
    bodyBytes: 1_048_576,
    headerBytes: 16_384,
    connectionsPerIp: 2,
    schema: { maxDepth: 32, maxEnumValues: 1000, maxProperties: 1000, maxBytes: 65536 },
    grammarTimeoutMs: 5000
};

function get(url: string, headers: Record<string, string>, agent: Agent | false): Promise<{ status: number; body: string; connection: string | undefined }> {
    return new Promise((resolve, reject) => {
        request(`${url}/v1/models`, { headers, agent }, (res) => {
            let body = "";
            res.setEncoding("utf8").on("data", (c: string) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
        })
            .on("error", reject)
            .end();
    });
}

/** An unauthenticated connection that sends nothing: what a flood holds open. */
async function idle(url: string): Promise<Socket> {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    await new Promise((resolve) => socket.once("connect", resolve));
    return socket;
}

describe("server.request_limits.connections_per_ip", () => {
    it("unauthenticated connections past the cap get 429 too_many_connections; authenticated ones never count", async () => {
        const h = await createHarness({ engine: new FakeEngine(), requestLimits: limits });
        const sockets: Socket[] = [];
        const keyed = new Agent({ keepAlive: true, maxSockets: 1 });
        try {
            const url = await h.listen();
            assert.equal((await get(url, auth(h.keys.read), keyed)).status, 200, "a keyed connection, kept alive: it stops counting");
            sockets.push(await idle(url), await idle(url));
            await sleep(50);
            const refused = await get(url, auth(h.keys.read), false);
            assert.equal(refused.status, 429, refused.body);
            assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, "too_many_connections");
            assert.equal(refused.connection, "close");
            assert.equal((await get(url, auth(h.keys.read), keyed)).status, 200, "the authenticated keep-alive connection is still served");
            sockets.pop()!.destroy();
            await sleep(50);
            assert.equal((await get(url, auth(h.keys.read), false)).status, 200, "a freed slot takes a new connection");
        } finally {
            for (const socket of sockets) socket.destroy();
            keyed.destroy();
            await h.close();
        }
    });
});
