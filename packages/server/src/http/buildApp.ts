import { randomBytes } from "node:crypto";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import cors from "@fastify/cors";
import swagger from "@fastify/swagger";
import type { Engine, InferenceService } from "@quandex/engine";
import { QuandexError } from "@quandex/protocol";
import type { ServerConfig } from "../config/ServerConfig.js";
import type { KeyStore } from "../keys/ApiKey.js";
import type { AuthFailureLimiter } from "../limits/AuthFailureLimiter.js";
import type { LimitStore } from "../limits/LimitStore.js";
import { janRoutes } from "../dialects/jan/janRoutes.js";
import { openaiRoutes } from "../dialects/openai/openaiRoutes.js";
import { anthropicRoutes } from "../dialects/anthropic/anthropicRoutes.js";
import { ollamaRoutes } from "../dialects/ollama/ollamaRoutes.js";
import { quandexVersion } from "../quandexVersion.js";
import type { InferenceDeps } from "../inference/InferenceDeps.js";
import { AccessGuard } from "./access/AccessGuard.js";
import { PreAuthConnectionLimiter } from "./access/PreAuthConnectionLimiter.js";
import { noAdmissionHooks } from "./access/AdmissionHooks.js";
import type { LimitsGate } from "./access/LimitsGate.js";
import { sendError, toQuandexError } from "./errorReply.js";
import { httpServerOptions, type HttpServerOptions } from "./httpServerOptions.js";
import { ErrorShapes } from "./ErrorShapes.js";
import { Lifecycle } from "./Lifecycle.js";
import { consolePlugin } from "../console/consolePlugin.js";
import { adminKeysRoutes } from "./routes/adminKeysRoutes.js";
import { healthRoute } from "./routes/healthRoute.js";
import { modelsRoutes } from "./routes/modelsRoutes.js";
import { pullRoutes } from "./routes/pullRoutes.js";
import { openApiRoute } from "./routes/openApiRoute.js";
import { statsRoute } from "./routes/statsRoute.js";
import type { ClusterStats } from "../cluster/ClusterStats.js";
import { usageRoute } from "./routes/usageRoute.js";
import { auditRoute } from "./routes/auditRoute.js";
import { metricsRoute } from "./routes/metricsRoute.js";
import { recordAdminActions } from "../observability/AuditRecorder.js";
import { QuandexMetrics } from "../observability/QuandexMetrics.js";
import { RequestObserver } from "../observability/RequestObserver.js";
import type { AuditLog } from "../storage/AuditLog.js";
import { defaultStreamLimits, setStreamLimits } from "../streaming/StreamLimits.js";

export interface AppDeps {
    config: Pick<ServerConfig, "maxQueue" | "keepAliveMs" | "corsOrigins" | "trustProxy" | "defaultScopes"> &
        Partial<Pick<ServerConfig, "promptCache" | "streamBufferLimitBytes" | "idleTimeoutMs" | "metrics" | "ollamaApi" | "logPrompts" | "requestLimits" | "tls">>;
    service: InferenceService;
    engine: Engine;
    keys: KeyStore;
    lifecycle?: Lifecycle;
    /** Per-key rate limits and daily quotas; without it, no limits apply. */
    limits?: LimitsGate;
    /** Failed-authentication limiter per client address. */
    authFailures?: AuthFailureLimiter;
    /** Usage records for GET /v1/usage. */
    usage?: LimitStore;
    /** Where admin actions are recorded (`GET /v1/admin/audit`); without it, none are. */
    audit?: AuditLog;
    logger?: Logger;
    sysRoot?: string;
    /** How the engine was chosen (`/v1/stats` `engine.requested`, `engine.reason`). Defaults to "given by the caller". */
    engineSelection?: { requested: string; reason: string };
    /** Replicas sharing a Redis: this one publishes its stats there for `/v1/stats?scope=cluster`. */
    cluster?: ClusterStats;
    /** The web console's built files; defaults to the installed `@quandex/console` package's dist. */
    consoleDir?: string;
}

export interface RouteSummary {
    method: string | string[];
    url: string;
    hasSchema: boolean;
}

declare module "fastify" {
    interface FastifyInstance {
        /** Every route registered, for the test that requires a schema on each. */
        registeredRoutes: readonly RouteSummary[];
    }
}

/** `/v1/models/:id/load` → a regex matching concrete paths, to tell 405 from 404. */
function routePattern(url: string): RegExp {
    const escaped = url.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:[A-Za-z_]+/g, "[^/]+");
    return new RegExp(`^${escaped}/?$`);
}

/** Random per process, so ids from replicas never collide; a counter is cheaper than random bytes per request. */
const requestIdPrefix = randomBytes(6).toString("hex");
let requestCounter = 0;

/** Headers a browser page may read on cross-origin answers. */
const exposedHeaders = [
    "x-request-id",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-limit-day",
    "x-ratelimit-remaining-day",
    "x-ratelimit-reset-day"
];

/**
 * The Fastify app: HTTP only. It reads no env and no files; everything arrives in `deps`, so tests
 * build it with a fake engine and `app.inject()`.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
    const lifecycle = deps.lifecycle ?? new Lifecycle();
    const mintRequestId = (): string => `req_${requestIdPrefix}${(requestCounter++).toString(36)}`;
    const app = Fastify({
        loggerInstance: deps.logger as FastifyBaseLogger | undefined,
        // Body and header size, TLS, and catalogue answers for what fails before a route (414, 431…).
        // Typed as plain HTTP: with TLS the instance is the same to every route.
        ...(httpServerOptions({ requestLimits: deps.config.requestLimits, tls: deps.config.tls }, mintRequestId) as Omit<HttpServerOptions, "https">),
        trustProxy: typeof deps.config.trustProxy === "object" ? [...deps.config.trustProxy] : deps.config.trustProxy,
        requestIdHeader: false,
        // Always the server's own id: a client's `x-request-id` is kept apart (`client_request_id` in
        // the log line), so a client cannot pass its value off as one the server minted.
        genReqId: mintRequestId,
        ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
        return503OnClosing: false,
        // Fastify's two info lines per request cost more than the rest of a /v1/models request;
        // `RequestObserver` writes one line per request instead, with what the request path knows.
        logController: new LogController({ disableRequestLogging: true }),
        forceCloseConnections: "idle",
        // A connection with no request in flight (a keep-alive one, or one whose stream the kernel
        // still holds for a slow reader) is closed after `server.idle_timeout`, not Fastify's 72 s.
        keepAliveTimeout: deps.config.idleTimeoutMs ?? defaultStreamLimits.idleTimeoutMs
    });
    setStreamLimits(app, {
        bufferLimitBytes: deps.config.streamBufferLimitBytes ?? defaultStreamLimits.bufferLimitBytes,
        idleTimeoutMs: deps.config.idleTimeoutMs ?? defaultStreamLimits.idleTimeoutMs
    });

    // Behind a proxy every socket is the proxy's: the cap would throttle every user at once.
    if (deps.config.requestLimits && deps.config.trustProxy === false) {
        new PreAuthConnectionLimiter(deps.config.requestLimits.connectionsPerIp).attach(app.server, deps.config.tls != null);
    }

    const routes: RouteSummary[] = [];
    // Only a listing, for 405 answers and the test that requires a schema on every route: each
    // route's access policy is in its own declaration (`onRequest: access.guard(policy)`).
    app.addHook("onRoute", (route) => {
        routes.push({ method: route.method, url: route.url, hasSchema: route.schema !== undefined && route.schema.response !== undefined });
    });
    const access = new AccessGuard(deps.keys, deps.authFailures, deps.limits);
    app.decorate("registeredRoutes", routes);
    // Every property a hook sets is declared here, as Fastify asks: it creates them in the Request
    // constructor, so all requests share one shape.
    app.decorateRequest("receivedAt", 0);
    app.decorateRequest("apiKey", undefined);
    app.decorateRequest("rateDecision", undefined);
    app.decorateRequest("trace", null);
    const metricsConfig = deps.config.metrics ?? { enabled: true, auth: "key" as const };
    const metrics = metricsConfig.enabled ? new QuandexMetrics(deps.service) : undefined;
    if (metrics) app.addHook("onClose", async () => metrics.close());
    const observer = new RequestObserver({ ...(metrics && { metrics }), logPrompts: deps.config.logPrompts ?? false });
    // One global hook: each is a promise hop on every request.
    const stamp = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void): void => {
        request.receivedAt = performance.now();
        observer.begin(request, reply);
        reply.header("x-request-id", request.id);
        if (lifecycle.draining && request.routeOptions.url !== "/health") return done(new QuandexError("server_shutdown"));
        const refusal = PreAuthConnectionLimiter.refusal(request.raw.socket);
        if (refusal) {
            reply.header("connection", "close");
            return done(refusal);
        }
        done();
    };
    app.addHook("onRequest", stamp);
    if (deps.config.corsOrigins.length > 0) {
        await app.register(cors, { origin: [...deps.config.corsOrigins], exposedHeaders: exposedHeaders });
    }
    // The per-request log line is written by `RequestObserver` (one line per request, cut streams included).
    const errorShapes = new ErrorShapes();
    const answerError = (request: FastifyRequest, reply: FastifyReply, error: QuandexError): FastifyReply => sendError(reply, error, errorShapes.body(request.url, error));
    app.setErrorHandler((error, request, reply) => answerError(request, reply, toQuandexError(error, request)));
    app.removeContentTypeParser("text/plain");
    app.setNotFoundHandler((request, reply) => {
        const path = request.url.split("?")[0] ?? request.url;
        const params = { method: request.method, path };
        const allowed = [...new Set(routes.filter((r) => routePattern(r.url).test(path)).flatMap((r) => r.method))];
        if (allowed.length === 0) return answerError(request, reply, new QuandexError("route_not_found", params));
        reply.header("allow", allowed.join(", "));
        return answerError(request, reply, new QuandexError("method_not_allowed", params));
    });

    await app.register(swagger, {
        openapi: {
            openapi: "3.0.3",
            info: { title: "Quandex JAN API", version: quandexVersion, description: "Self-hosted LLM inference on llama.cpp." },
            servers: [{ url: "/" }],
            components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
            security: [{ bearer: [] }]
        }
    });

    const inference: InferenceDeps = {
        service: deps.service,
        quota: deps.limits ?? noAdmissionHooks,
        lifecycle,
        keepAliveMs: deps.config.keepAliveMs,
        promptCache: deps.config.promptCache ?? "per_key",
        logPrompts: deps.config.logPrompts ?? false
    };
    // Before the admin routes are declared: it attaches itself to them through `onRoute`.
    if (deps.audit) recordAdminActions(app, deps.audit, deps.logger);
    healthRoute(app, access, lifecycle);
    openApiRoute(app, access);
    janRoutes(app, access, inference);
    openaiRoutes(app, access, inference);
    anthropicRoutes(app, access, inference, errorShapes);
    const ollamaApi = deps.config.ollamaApi ?? { enabled: true, auth: "key" as const, anonymousKey: null };
    if (ollamaApi.enabled) {
        await app.register(async (scope) => {
            // Ollama's documented examples are `curl -d '{…}'`, which sends a form content type, and
            // its clients' bodies are JSON whatever they declare: in this scope every body is read as JSON.
            scope.addContentTypeParser("*", { parseAs: "string" }, parseAnyAsJson);
            ollamaRoutes(scope, access, inference, errorShapes, {
                auth: ollamaApi.auth === "none" && ollamaApi.anonymousKey !== null ? { mode: "none", anonymousKeyId: ollamaApi.anonymousKey } : { mode: "key" },
                version: quandexVersion
            });
        });
    }
    modelsRoutes(app, access, deps.service);
    pullRoutes(app, access, { service: deps.service, lifecycle, keepAliveMs: deps.config.keepAliveMs });
    statsRoute(app, access, {
        service: deps.service,
        engine: deps.engine,
        maxQueue: deps.config.maxQueue,
        startedAt: lifecycle.startedAt,
        sysRoot: deps.sysRoot ?? "/sys",
        authFailures: deps.authFailures,
        engineSelection: deps.engineSelection ?? { requested: deps.engine.info().name, reason: "given by the caller" },
        ...(deps.cluster && { cluster: deps.cluster })
    });
    adminKeysRoutes(app, access, { keys: deps.keys, defaultScopes: deps.config.defaultScopes });
    if (deps.usage) usageRoute(app, access, deps.usage);
    if (metrics) metricsRoute(app, access, metrics, metricsConfig.auth);
    if (deps.audit) auditRoute(app, access, deps.audit);
    await app.register(consolePlugin, { ...(deps.consoleDir !== undefined && { distDir: deps.consoleDir }) });
    await app.ready();
    return app;
}

/** A body parsed as JSON whatever its content type; a parse failure is Fastify's 400 (`invalid_json`). */
function parseAnyAsJson(_request: FastifyRequest, body: string | Buffer, done: (error: Error | null, value?: unknown) => void): void {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text === "") return done(null, {});
    try {
        done(null, JSON.parse(text));
    } catch (error) {
        done(Object.assign(error as Error, { statusCode: 400 }));
    }
}
