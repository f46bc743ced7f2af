import type { Socket } from "node:net";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { QuandexError } from "@quandex/protocol";
import { ClientClosedError } from "../inference/RequestSignals.js";

/** Sends a catalogue error as JSON, with `Retry-After` where the error has one. */
export function sendError(reply: FastifyReply, error: QuandexError, body?: unknown): FastifyReply {
    // For the request's log line and `/metrics` (`quandex_rate_limited_total`).
    if (reply.request.trace) reply.request.trace.errorCode = error.code;
    if (error.retryAfter !== undefined) reply.header("retry-after", String(Math.max(1, Math.ceil(error.retryAfter))));
    if (error.status < 500 && error.status !== 429) reply.header("x-should-retry", "false");
    if (error.code === "invalid_api_key") reply.header("www-authenticate", 'Bearer realm="quandex"');
    if (!reply.request.raw.complete) lingerOnUnreadBody(reply);
    // A dialect's own error shape is sent as text: the route's error schemas describe the catalogue's.
    return reply
        .code(error.status)
        .type("application/json; charset=utf-8")
        .send(body === undefined ? error.toBody() : JSON.stringify(body));
}

/** How much of an unread body a refused request may still send, and for how long, before its connection is cut. */
const linger = { bytes: 64 * 1024 * 1024, ms: 5_000 };

/**
 * A request refused before its body was read (401, 404, 413…): closing the connection while the
 * client is still sending makes the kernel answer its next bytes with a reset, which can drop the
 * answer before the client reads it and fails its write (the soak's fuzz found this with 10 MB
 * bodies). As nginx's lingering close does: the answer goes out, the connection is closed for
 * writing only (the client reads the answer, then end of file), and the rest of the body is read
 * and thrown away until the client closes, up to {@link linger}'s bytes and time; then it is cut.
 */
function lingerOnUnreadBody(reply: FastifyReply): void {
    const incoming = reply.request.raw;
    const socket = incoming.socket as Socket & { destroySoon?: () => void; lingering?: boolean };
    if (socket.lingering) return;
    socket.lingering = true;
    reply.header("connection", "close");
    let discarded = 0;
    incoming.on("data", (chunk: Buffer) => {
        discarded += chunk.length;
        if (discarded > linger.bytes) socket.destroy();
    });
    incoming.resume();
    // Node closes a `Connection: close` response's socket with destroySoon() once the answer is written.
    socket.destroySoon = () => {
        socket.end();
        const timer = setTimeout(() => socket.destroy(), linger.ms);
        timer.unref();
        socket.once("close", () => clearTimeout(timer));
        socket.once("end", () => socket.destroy());
    };
}

/** Errors that mean the client closed the connection while the request was still arriving. */
function clientWentAway(error: unknown, request: FastifyRequest): boolean {
    if (error instanceof ClientClosedError) return true;
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE" || code === "ECONNABORTED") return true;
    return (error as Error | undefined)?.message === "aborted" || (request.raw.destroyed && !request.raw.complete);
}

/**
 * Maps anything thrown in a route or by Fastify itself to a catalogue error. Unknown errors become
 * a 500 whose message names no internals; the full error goes to the log with the request id.
 */
export function toQuandexError(error: unknown, request: FastifyRequest): QuandexError {
    const mapped = mapToCatalogue(error, request);
    // An error sent in-band mid-stream goes through here only: the log line still names its code.
    if (request.trace) request.trace.errorCode = mapped.code;
    return mapped;
}

function mapToCatalogue(error: unknown, request: FastifyRequest): QuandexError {
    if (error instanceof QuandexError) return error;
    const fastifyError = error as FastifyError & { validation?: ValidationIssue[] };
    if (fastifyError.validation && fastifyError.validation.length > 0)
        return fromValidation(fastifyError.validation[0]!, fastifyError.validationContext, mostSpecific(fastifyError.validation));
    switch (fastifyError.code) {
        case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
            return new QuandexError("unsupported_media_type", { content_type: request.headers["content-type"] ?? "(none)" });
        case "FST_ERR_CTP_BODY_TOO_LARGE":
            return new QuandexError("payload_too_large", { limit: request.routeOptions.bodyLimit ?? 1_048_576 });
        case "FST_ERR_CTP_EMPTY_JSON_BODY":
            return new QuandexError("invalid_json", { detail: "the body is empty." });
        case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
            return new QuandexError("invalid_json", { detail: "Content-Length does not match the body." });
    }
    if (clientWentAway(error, request)) {
        // Nobody is left to read an answer: an info line, not an "unhandled error".
        request.log.info({ code: (error as NodeJS.ErrnoException).code ?? null, message: (error as Error).message }, "the client closed the connection mid-request");
        return new QuandexError("malformed_request", { detail: "the client closed the connection before the request ended." });
    }
    if (fastifyError.statusCode === 400 && (error instanceof SyntaxError || /JSON/i.test(fastifyError.message))) {
        return new QuandexError("invalid_json", { detail: fastifyError.message });
    }
    request.log.error({ err: error }, "unhandled error");
    return new QuandexError("internal_error", { detail: "see the server log for this request id." });
}

interface ValidationIssue {
    instancePath: string;
    keyword: string;
    message?: string;
    params: Record<string, unknown>;
}

/**
 * The issue that says what is wrong. For a field that may be one of several shapes (`stop`: a
 * string or a list), Ajv reports each branch's failure and then `anyOf`; the first is "must be
 * string" even when the value is a list that is too long. A branch that got past the type check
 * failed on the real limit, so prefer it: the deepest issue that is not a `type` or `anyOf` mismatch.
 */
function mostSpecific(issues: readonly ValidationIssue[]): ValidationIssue {
    let best: ValidationIssue | undefined;
    for (const issue of issues) {
        if (issue.keyword === "type" || issue.keyword === "anyOf" || issue.keyword === "oneOf") continue;
        if (!best || issue.instancePath.length > best.instancePath.length) best = issue;
    }
    return best ?? issues[0]!;
}

/** Ajv's wording of a limit, as the README states limits. */
function limitDetail(issue: ValidationIssue): string | undefined {
    const limit = issue.params.limit;
    switch (issue.keyword) {
        case "maxItems":
            return `at most ${String(limit)} items are allowed.`;
        case "minItems":
            return `at least ${String(limit)} items are needed.`;
        case "maxLength":
            return `at most ${String(limit)} characters are allowed.`;
        case "minLength":
            return `at least ${String(limit)} characters are needed.`;
        default:
            return undefined;
    }
}

/** `param` names the field Ajv reported first; the detail comes from `specific`, the issue that says what is wrong with it. */
function fromValidation(issue: ValidationIssue, context: string | undefined, specific: ValidationIssue = issue): QuandexError {
    let param = issue.instancePath.replace(/^\//, "").replace(/\//g, ".");
    if (issue.keyword === "required") param = joinPath(param, String(issue.params.missingProperty));
    if (issue.keyword === "additionalProperties") {
        const extra = String(issue.params.additionalProperty);
        return new QuandexError("invalid_parameter", { param: joinPath(param, extra), detail: "unknown field." }, { param: joinPath(param, extra) });
    }
    if (param === "") param = context === "body" ? "body" : (context ?? "request");
    const within = specific.instancePath.startsWith(`${issue.instancePath}/`) ? `${specific.instancePath.slice(issue.instancePath.length + 1).replace(/\//g, ".")}: ` : "";
    const detail = specific.keyword === "required" ? "this field is required." : `${within}${limitDetail(specific) ?? `${specific.message ?? "invalid"}.`}`;
    return new QuandexError("invalid_parameter", { param, detail }, { param });
}

function joinPath(base: string, leaf: string): string {
    return base === "" ? leaf : `${base}.${leaf}`;
}
