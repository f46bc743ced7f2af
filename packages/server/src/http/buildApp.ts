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
import { noAdmissionHooks } from "./AdmissionHooks.js";
import type { LimitsGate } from "./LimitsGate.js";
import { adminKeysRoutes } from "./routes/adminKeysRoutes.js";
import { usageRoute } from "./routes/usageRoute.js";
import { authHook } from "./authHook.js";
import { sendError, toQuandexError } from "./errorReply.js";
import { endOfTurn } from "./endOfTurn.js";
import { Lifecycle } from "./Lifecycle.js";
import { generateRoute } from "./routes/generateRoute.js";
import { healthRoute } from "./routes/healthRoute.js";
import { modelsRoutes } from "./routes/modelsRoutes.js";
import { openaiRoutes } from "./routes/openai/openaiRoutes.js";
import { openApiRoute } from "./routes/openApiRoute.js";
import { statsRoute } from "./routes/statsRoute.js";

export interface AppDeps {
    config: Pick<ServerConfig, "maxQueue" | "keepAliveMs" | "corsOrigins" | "trustProxy" | "defaultScopes">;
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
    logger?: Logger;
    sysRoot?: string;
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

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;
export const bodyLimit = 1_048_576;

/**
 * The Fastify app: HTTP only. It reads no env and no files; everything arrives in `deps`, so tests
 * build it with a fake engine and `app.inject()`.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
    const lifecycle = deps.lifecycle ?? new Lifecycle();
    const app = Fastify({
        loggerInstance: deps.logger as FastifyBaseLogger | undefined,
        bodyLimit,
        trustProxy: typeof deps.config.trustProxy === "object" ? [...deps.config.trustProxy] : deps.config.trustProxy,
        requestIdHeader: false,
        genReqId: (req) => {
            const incoming = req.headers["x-request-id"];
            return typeof incoming === "string" && requestIdPattern.test(incoming) ? incoming : `req_${requestIdPrefix}${(requestCounter++).toString(36)}`;
        },
        ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
        return503OnClosing: false,
        // Fastify's two info lines per request cost more than the rest of a /v1/models request;
        // one debug line per response (below) keeps an access log for those who turn it on.
        logController: new LogController({ disableRequestLogging: true }),
        forceCloseConnections: "idle"
    });

    const routes: RouteSummary[] = [];
    const authenticate = authHook(deps.keys, deps.authFailures);
    const limits = deps.limits;
    // Authentication and limits are the route's own onRequest hook, added only to routes that name
    // a scope: public routes pay nothing for them, and the scope is known without a per-request
    // lookup. Route hooks run after the global ones, so with CORS on a 401 still carries its headers.
    app.addHook("onRoute", (route) => {
        routes.push({ method: route.method, url: route.url, hasSchema: route.schema !== undefined && route.schema.response !== undefined });
        const scope = route.config?.scope;
        if (scope === undefined) return;
        const authenticateFor = authenticate(scope);
        // An admitted request's remaining work (body, handler, answer) runs at the end of the
        // event-loop turn, with every other request that turn admitted. Answering one by one, each
        // write to a client that had gone idle woke it (on a VM, an inter-processor interrupt inside
        // our write call); a turn's answers written back to back wake it once, and the handlers run
        // back to back on warm caches. Measured with autocannon on loopback (DEVELOPERS.md, "The
        // control plane's cost per request"): server CPU per authenticated GET /v1/models fell from
        // about 50 to 38 µs. A lone request waits one `setImmediate`; under load a request waits for
        // the turn's earlier ones, tens of microseconds each. Refusals (401, 403, 429) go out at once.
        const gate = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
            await authenticateFor(request, reply);
            if (limits) await limits.onAuthenticated(request, reply);
            await endOfTurn();
        };
        const own = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
        route.onRequest = [gate, ...own];
    });
    app.decorate("registeredRoutes", routes);
    // Every property a hook sets is declared here, as Fastify asks: it creates them in the Request
    // constructor, so all requests share one shape.
    app.decorateRequest("receivedAt", 0);
    app.decorateRequest("apiKey", undefined);
    app.decorateRequest("rateDecision", undefined);
    // One global hook: each is a promise hop on every request.
    const stamp = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void): void => {
        request.receivedAt = performance.now();
        reply.header("x-request-id", request.id);
        if (lifecycle.draining && request.routeOptions.url !== "/health") return done(new QuandexError("server_shutdown"));
        done();
    };
    app.addHook("onRequest", stamp);
    if (deps.config.corsOrigins.length > 0) {
        await app.register(cors, { origin: [...deps.config.corsOrigins], exposedHeaders: exposedHeaders });
    }
    if (deps.logger?.isLevelEnabled("debug")) {
        app.addHook("onResponse", async (request, reply) => {
            request.log.debug(
                { method: request.method, url: request.url, status: reply.statusCode, ms: Math.round((performance.now() - request.receivedAt) * 100) / 100, key: request.apiKey?.id },
                "request"
            );
        });
    }
    app.setErrorHandler((error, request, reply) => sendError(reply, toQuandexError(error, request)));
    app.removeContentTypeParser("text/plain");
    app.setNotFoundHandler((request, reply) => {
        const path = request.url.split("?")[0] ?? request.url;
        const params = { method: request.method, path };
        const allowed = [...new Set(routes.filter((r) => routePattern(r.url).test(path)).flatMap((r) => r.method))];
        if (allowed.length === 0) return sendError(reply, new QuandexError("route_not_found", params));
        reply.header("allow", allowed.join(", "));
        return sendError(reply, new QuandexError("method_not_allowed", params));
    });

    await app.register(swagger, {
        openapi: {
            openapi: "3.0.3",
            info: { title: "Quandex JAN API", version: "0.1.0", description: "Self-hosted LLM inference on llama.cpp." },
            servers: [{ url: "/" }],
            components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
            security: [{ bearer: [] }]
        }
    });

    healthRoute(app, lifecycle);
    openApiRoute(app);
    generateRoute(app, { service: deps.service, lifecycle, hooks: deps.limits ?? noAdmissionHooks, keepAliveMs: deps.config.keepAliveMs });
    openaiRoutes(app, { service: deps.service, lifecycle, hooks: deps.limits ?? noAdmissionHooks, keepAliveMs: deps.config.keepAliveMs });
    modelsRoutes(app, deps.service);
    statsRoute(app, {
        service: deps.service,
        engine: deps.engine,
        maxQueue: deps.config.maxQueue,
        startedAt: lifecycle.startedAt,
        sysRoot: deps.sysRoot ?? "/sys",
        authFailures: deps.authFailures
    });
    adminKeysRoutes(app, { keys: deps.keys, defaultScopes: deps.config.defaultScopes });
    if (deps.usage) usageRoute(app, deps.usage);
    await app.ready();
    return app;
}
