import type { Server, Socket } from "node:net";
import { QuandexError } from "@quandex/protocol";
import { clientAddressKey } from "../../limits/clientAddressKey.js";

/** Connections that have not authenticated a request yet, with the function that stops counting each. */
const pending = new WeakMap<Socket, () => void>();
/** Connections accepted past their address's cap: each request on them is answered 429 and the connection closed. */
const refused = new WeakSet<Socket>();
/** The cap a refused socket was refused under, for the message. */
const limitOf = new WeakMap<Socket, number>();

/**
 * Caps the connections one address may hold open before any of them authenticated a request
 * (`server.request_limits.connections_per_ip`), so an unauthenticated flood cannot take every
 * socket, file descriptor and parser the server has while keyed users wait. A connection stops
 * counting once a request on it passes authentication: a keyed client's keep-alive connections
 * are never refused. Past the cap a new connection is still accepted, so the client gets an
 * answer it can act on: its requests get 429 `too_many_connections` and the connection is closed.
 *
 * Counted by socket address (IPv6 by its /64, as the failed-auth limiter counts). Behind a reverse
 * proxy every socket is the proxy's, so with `server.trust_proxy` set the cap is not applied:
 * limit connections at the proxy instead.
 */
export class PreAuthConnectionLimiter {
    readonly #counts = new Map<string, number>();

    constructor(readonly limit: number) {}

    /** Counts the server's connections; TLS ones once their handshake is done (the socket requests arrive on). */
    attach(server: Server, secure: boolean): void {
        server.on(secure ? "secureConnection" : "connection", (socket: Socket) => this.#admit(socket));
    }

    /** Connections counted now for an address. */
    counted(address: string): number {
        return this.#counts.get(clientAddressKey(address)) ?? 0;
    }

    /** A request on this connection authenticated: it no longer counts. */
    static authenticated(socket: Socket): void {
        pending.get(socket)?.();
    }

    /** The answer for a request on a connection past the cap, or `undefined` for every other one. */
    static refusal(socket: Socket): QuandexError | undefined {
        return refused.has(socket) ? new QuandexError("too_many_connections", { limit: limitOf.get(socket) ?? 0, retry_after: 1 }, { retryAfter: 1 }) : undefined;
    }

    #admit(socket: Socket): void {
        const address = clientAddressKey(socket.remoteAddress ?? "");
        const count = this.#counts.get(address) ?? 0;
        if (count >= this.limit) {
            refused.add(socket);
            limitOf.set(socket, this.limit);
            return;
        }
        this.#counts.set(address, count + 1);
        let released = false;
        const release = (): void => {
            if (released) return;
            released = true;
            pending.delete(socket);
            const left = (this.#counts.get(address) ?? 1) - 1;
            if (left <= 0) this.#counts.delete(address);
            else this.#counts.set(address, left);
        };
        pending.set(socket, release);
        socket.once("close", release);
    }
}
