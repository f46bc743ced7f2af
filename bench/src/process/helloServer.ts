/**
 * The control-plane reference: a bare Fastify hello-world (same Fastify as the server, default
 * options, no logger), run as its own process like the server so both get the same process topology
 * against the same autocannon client. Usage: `node --import tsx helloServer.ts PORT`.
 */
import Fastify from "fastify";

const port = Number.parseInt(process.argv[2] ?? "", 10);
if (!Number.isInteger(port)) throw new Error("usage: helloServer.ts PORT");
const app = Fastify();
app.get("/hello", async () => ({ hello: "world" }));
await app.listen({ host: "127.0.0.1", port });
const close = (): void => void app.close().then(() => process.exit(0));
process.once("SIGTERM", close);
process.once("SIGINT", close);
