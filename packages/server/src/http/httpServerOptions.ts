import { STATUS_CODES, type ServerOptions } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { QuandexError } from "@quandex/protocol";
import type { ServerConfig } from "../config/ServerConfig.js";
import { sendError, toQuandexError } from "./errorReply.js";

/** Fastify's own limit on one path parameter (a model or key id); past it, 414 `uri_too_long`. */
export const maxParamLength = 100;

export interface HttpServerSettings {
    requestLimits?: Pick<ServerConfig["requestLimits"], "bodyBytes" | "headerBytes">;
    tls?: ServerConfig["tls"];
}

/** The part of Fastify's options this module decides. */
export interface HttpServerOptions {
    bodyLimit: number;
    routerOptions: { maxParamLength: number };
    /** Plain HTTP, or (typed as `http` for `buildApp`'s one instance type) Node's HTTPS server options. */
    http?: ServerOptions;
    https?: ServerOptions & { cert: string; key: string };
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void;
    clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => void;
}

/**
 * The server-level options: body and header size, TLS, and the answers to what fails before a
 * route runs. Fastify answers a path parameter over 100 characters (414), a URL that does not
 * decode (400) and Node's header overflow (431) in its own body shape, without `x-request-id`;
 * here each is a catalogue error with the server's id, like every other answer.
 *
 * TLS is Node's own (`https.createServer`): enough for a team server on its own host. In front of
 * a public address, a reverse proxy (certificate renewal, HTTP/2, many sites) is the better place.
 */
export function httpServerOptions(settings: HttpServerSettings, mintRequestId: () => string): HttpServerOptions {
    const bodyBytes = settings.requestLimits?.bodyBytes ?? 1_048_576;
    const headerBytes = settings.requestLimits?.headerBytes ?? 16_384;
    const server: ServerOptions = { maxHeaderSize: headerBytes };
    return {
        bodyLimit: bodyBytes,
        routerOptions: { maxParamLength },
        ...(settings.tls ? { https: { ...server, cert: settings.tls.cert, key: settings.tls.key } } : { http: server }),
        frameworkErrors(error, request, reply) {
            reply.header("x-request-id", request.id);
            sendError(reply, frameworkError(error, request));
        },
        clientErrorHandler(error, socket) {
            // A reset connection has nobody to answer (as in Fastify's own handler).
            if (error.code === "ECONNRESET" || socket.destroyed) return;
            const answer =
                error.code === "HPE_HEADER_OVERFLOW"
                    ? new QuandexError("headers_too_large", { limit: headerBytes })
                    : new QuandexError("malformed_request", {
                          detail: error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "the request did not arrive in time." : "the server could not parse it."
                      });
            if (!socket.writable) return void socket.destroy();
            const body = JSON.stringify(answer.toBody());
            socket.end(
                `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ""}\r\n` +
                    `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
                    `x-request-id: ${mintRequestId()}\r\nx-should-retry: false\r\nconnection: close\r\n\r\n${body}`
            );
        }
    };
}

function frameworkError(error: FastifyError, request: FastifyRequest): QuandexError {
    const path = (request.url.split("?")[0] ?? request.url).slice(0, 160);
    switch (error.code) {
        case "FST_ERR_MAX_PARAM_LENGTH":
            return new QuandexError("uri_too_long", { path: path.length === 160 ? `${path}…` : path, limit: maxParamLength });
        case "FST_ERR_BAD_URL":
            return new QuandexError("malformed_request", { detail: "its URL does not decode (a bad percent-escape)." });
        default:
            return toQuandexError(error, request);
    }
}
