import type { FastifyReply, FastifyRequest } from "fastify";
import type { QuandexMetrics } from "./QuandexMetrics.js";
import { RequestTrace } from "./RequestTrace.js";

/** An `x-request-id` a client may send: kept (in its own field) only when it is short and plain. */
const clientRequestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

export interface RequestObserverOptions {
    /** Fed once per request; without it, only the log line. */
    metrics?: QuandexMetrics;
    /** Whether the log line carries prompts and outputs (`server.log_prompts`). */
    logPrompts: boolean;
}

/**
 * The one place a request's end is seen: when its response closes (finished, or cut by the
 * client), it writes the request's one log line through Fastify's pino logger and books it in
 * `/metrics`. `close` rather than Fastify's `onResponse`, which does not run for a stream the
 * client cut, so those requests would have no line.
 */
export class RequestObserver {
    constructor(private readonly options: RequestObserverOptions) {}

    /** Called from the app's one `onRequest` hook, first thing. */
    begin(request: FastifyRequest, reply: FastifyReply): void {
        const incoming = request.headers["x-request-id"];
        request.trace = new RequestTrace(typeof incoming === "string" && clientRequestIdPattern.test(incoming) ? incoming : null);
        reply.raw.once("close", () => this.end(request, reply));
    }

    private end(request: FastifyRequest, reply: FastifyReply): void {
        const endedAt = performance.now();
        const trace = request.trace;
        const route = request.routeOptions.url ?? "unmatched";
        const status = reply.statusCode;
        this.options.metrics?.observe(route, status, request.apiKey?.id, trace, request.receivedAt, endedAt);
        const line = this.logLine(request, route, status, trace, endedAt, !reply.raw.writableFinished);
        if (status >= 500) request.log.error(line, "request");
        else request.log.info(line, "request");
    }

    private logLine(request: FastifyRequest, route: string, status: number, trace: RequestTrace | null, endedAt: number, aborted: boolean): Record<string, unknown> {
        const run = trace?.run ?? null;
        const round = (ms: number): number => Math.round(ms * 100) / 100;
        const line: Record<string, unknown> = {
            request_id: request.id,
            client_request_id: trace?.clientRequestId ?? null,
            method: request.method,
            route,
            status,
            key_id: request.apiKey?.id ?? null,
            model: trace?.model ?? null,
            prompt_tokens: run ? run.usage.prompt_tokens : (trace?.promptTokens ?? null),
            output_tokens: run ? run.usage.completion_tokens : null,
            cached_tokens: run ? run.usage.cached_tokens : null,
            queue_ms: run ? round(Math.max(...run.queuedMs)) : null,
            ttft_ms: run && run.firstTokenAt > 0 ? round(run.firstTokenAt - request.receivedAt) : null,
            total_ms: round(endedAt - request.receivedAt),
            finish_reason: run ? (run.finishReasons.length === 1 ? run.finishReasons[0] : run.finishReasons) : null,
            error: trace?.errorCode ?? null
        };
        if (aborted) line.aborted = true;
        if (this.options.logPrompts && trace) {
            if (trace.prompt !== undefined) line.prompt = trace.prompt;
            if (run?.outputs) line.output = run.outputs.length === 1 ? run.outputs[0] : run.outputs;
        }
        return line;
    }
}
