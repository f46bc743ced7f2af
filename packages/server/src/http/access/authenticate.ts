import type { FastifyRequest } from "fastify";
import { QuandexError } from "@quandex/protocol";
import type { Scope } from "../../config/ConfigFileSchema.js";
import type { ApiKeyRecord, KeyStore } from "../../keys/ApiKey.js";
import type { AuthFailureLimiter } from "../../limits/AuthFailureLimiter.js";
import { authRateLimitedError } from "../../limits/limitErrors.js";
import { PreAuthConnectionLimiter } from "./PreAuthConnectionLimiter.js";

declare module "fastify" {
    interface FastifyRequest {
        apiKey?: ApiKeyRecord;
        /** `performance.now()` when the request arrived; processing_time counts from here. */
        receivedAt: number;
    }
}

/**
 * Bearer authentication, then the route's scope. It runs in `onRequest`, before the body is read,
 * so an unauthenticated client learns nothing about validation and sends no body for nothing.
 * The key is checked first (one hash and one indexed lookup) and only a failure consults the
 * per-address limiter: a valid key is never refused by it. Before, the limiter ran first, so a flood
 * of bad keys from one address (every user, behind a proxy without `trust_proxy`) locked out every
 * good key from it, admin included. Refusing good keys does not protect secrets: they are 256
 * random bits, so guessing is hopeless at any rate; the limiter slows a flood of failures (429
 * instead of 401, counted in `/v1/stats`) and never decides about a correct key.
 *
 * The scope is bound when the route is declared (see `AccessGuard`): Fastify builds a new
 * `request.routeOptions` object on every read, which cost more than the key lookup itself.
 */
export function authenticate(keys: KeyStore, failures: AuthFailureLimiter | undefined, scope: Scope, anonymousKeyId?: string): (request: FastifyRequest) => Promise<void> {
    return async function checkKey(request: FastifyRequest): Promise<void> {
        // Anthropic's SDKs send the key as `x-api-key`; it means the same as a Bearer header.
        const apiKeyHeader = request.headers["x-api-key"];
        const header = request.headers.authorization ?? (typeof apiKeyHeader === "string" ? `Bearer ${apiKeyHeader}` : undefined);
        if (header === undefined) {
            if (anonymousKeyId === undefined) throw new QuandexError("invalid_api_key", { detail: "No API key was sent." });
            // A route opened to clients without keys runs them as its anonymous key, which must exist and be active.
            const anonymous = await keys.get(anonymousKeyId);
            if (!anonymous || anonymous.revokedAt !== null || (anonymous.expiresAt !== null && Date.parse(anonymous.expiresAt) <= Date.now()))
                throw new QuandexError("invalid_api_key", { detail: `No API key was sent, and this route's anonymous key '${anonymousKeyId}' does not exist or was revoked.` });
            request.apiKey = anonymous;
            if (!anonymous.scopes.includes(scope) && !anonymous.scopes.includes("admin")) throw new QuandexError("insufficient_scope", { scope });
            return;
        }
        const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
        const key = match ? await keys.authenticate(match[1]!) : undefined;
        if (!key) {
            if (failures) {
                // A blocked address's failure is refused, not counted again: its bucket is empty.
                const decision = await failures.check(request.ip);
                if (decision.blocked) throw authRateLimitedError(decision);
                await failures.recordFailure(request.ip);
            }
            if (!match) throw new QuandexError("invalid_api_key", { detail: "The Authorization header is not of the form 'Bearer <key>'." });
            throw new QuandexError("invalid_api_key", { detail: "The API key is not valid, has expired or was revoked." });
        }
        request.apiKey = key;
        PreAuthConnectionLimiter.authenticated(request.raw.socket);
        if (!key.scopes.includes(scope) && !key.scopes.includes("admin")) {
            throw new QuandexError("insufficient_scope", { scope });
        }
    };
}
