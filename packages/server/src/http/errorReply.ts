import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { QuandexError } from "@quandex/protocol";

/** Sends a catalogue error as JSON, with `Retry-After` where the error has one. */
export function sendError(reply: FastifyReply, error: QuandexError): FastifyReply {
    if (error.retryAfter !== undefined) reply.header("retry-after", String(Math.max(1, Math.ceil(error.retryAfter))));
    if (error.status < 500 && error.status !== 429) reply.header("x-should-retry", "false");
    if (error.code === "invalid_api_key") reply.header("www-authenticate", 'Bearer realm="quandex"');
    return reply.code(error.status).type("application/json; charset=utf-8").send(error.toBody());
}

/**
 * Maps anything thrown in a route or by Fastify itself to a catalogue error. Unknown errors become
 * a 500 whose message names no internals; the full error goes to the log with the request id.
 */
export function toQuandexError(error: unknown, request: FastifyRequest): QuandexError {
    if (error instanceof QuandexError) return error;
    const fastifyError = error as FastifyError & { validation?: ValidationIssue[] };
    if (fastifyError.validation && fastifyError.validation.length > 0) return fromValidation(fastifyError.validation[0]!, fastifyError.validationContext);
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

function fromValidation(issue: ValidationIssue, context: string | undefined): QuandexError {
    let param = issue.instancePath.replace(/^\//, "").replace(/\//g, ".");
    if (issue.keyword === "required") param = joinPath(param, String(issue.params.missingProperty));
    if (issue.keyword === "additionalProperties") {
        const extra = String(issue.params.additionalProperty);
        return new QuandexError("invalid_parameter", { param: joinPath(param, extra), detail: "unknown field." }, { param: joinPath(param, extra) });
    }
    if (param === "") param = context === "body" ? "body" : (context ?? "request");
    const detail = issue.keyword === "required" ? "this field is required." : `${issue.message ?? "invalid"}.`;
    return new QuandexError("invalid_parameter", { param, detail }, { param });
}

function joinPath(base: string, leaf: string): string {
    return base === "" ? leaf : `${base}.${leaf}`;
}
