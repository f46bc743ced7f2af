import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { loopbackRequest } from "../src/llamaServer/loopbackHttp.js";

/** A server that, like llama-server's HTTP library at times, drops a kept-alive connection as the next request arrives. */
async function droppingServer(): Promise<{ url: string; connections: () => number }> {
    const served = new WeakMap<object, number>();
    let connections = 0;
    const server = http.createServer((req, res) => {
        const count = (served.get(req.socket) ?? 0) + 1;
        served.set(req.socket, count);
        if (count > 1) {
            req.socket.destroy();
            return;
        }
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ tokens: [1, 2, 3] }));
    });
    server.on("connection", () => connections++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, connections: () => connections };
}

describe("loopbackRequest", () => {
    it("sends a pooled call again on a fresh connection when the server dropped the reused one", async () => {
        const { url, connections } = await droppingServer();
        const pool = new http.Agent({ keepAlive: true, maxSockets: 1 });
        after(() => pool.destroy());
        for (let i = 0; i < 3; i++) {
            const answer = await loopbackRequest(url, "/tokenize", { body: { content: "x" }, pool });
            assert.deepEqual(await answer.json(), { tokens: [1, 2, 3] });
        }
        // Each later call found the pooled socket dropped, and went again on a new one.
        assert.ok(connections() >= 3, `connections: ${connections()}`);
    });

    it("does not send a call again without a pool: a stream's failure is the caller's to report", async () => {
        const server = http.createServer((req) => req.socket.destroy());
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        after(() => new Promise<void>((resolve) => server.close(() => resolve())));
        const { port } = server.address() as AddressInfo;
        await assert.rejects(loopbackRequest(`http://127.0.0.1:${port}`, "/completion", { body: {} }), /socket hang up|ECONNRESET/);
    });

    it("sends the path with its query string (llama-server's /slots/N?action=save)", async () => {
        const server = http.createServer((req, res) => res.end(JSON.stringify({ url: req.url })));
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        after(() => new Promise<void>((resolve) => server.close(() => resolve())));
        const { port } = server.address() as AddressInfo;
        const answer = await loopbackRequest(`http://127.0.0.1:${port}`, "/slots/3?action=save", { body: { filename: "a.bin" } });
        assert.deepEqual(await answer.json(), { url: "/slots/3?action=save" });
    });
});
