import type { FastifyReply, FastifyRequest } from "fastify";
import { QuandexError } from "@quandex/protocol";
import type { Scope } from "../config/ConfigFileSchema.js";
import type { ApiKeyRecord, KeyStore } from "../keys/ApiKey.js";
import type { AuthFailureLimiter } from "../limits/AuthFailureLimiter.js";
import { authRateLimitedError } from "../limits/limitErrors.js";

declare module "fastify" {
    interface FastifyContextConfig {
        /** The scope a key needs for this route; routes without one are public. */
        scope?: Scope;
    }
    interface FastifyRequest {
        apiKey?: ApiKeyRecord;
        /** `performance.now()` when the request arrived; processing_time counts from here. */
        receivedAt: number;
    }
}

/**
 * Bearer authentication, then the route's scope. It runs in `onRequest`, before the body is read,
 * so an unauthenticated client learns nothing about validation and sends no body for nothing.
 * An address that keeps presenting wrong keys is refused (429) before its next key is even
 * checked, so a blocked guesser cannot keep trying at full speed.
 *
 * The scope is bound when the route is registered: Fastify builds a new `request.routeOptions`
 * object on every read, which cost more than the key lookup itself.
 */
export function authHook(keys: KeyStore, failures?: AuthFailureLimiter): (scope: Scope) => (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
    return (scope) =>
        async function authenticate(request: FastifyRequest): Promise<void> {
            const header = request.headers.authorization;
            if (header === undefined) throw new QuandexError("invalid_api_key", { detail: "No API key was sent." });
            if (failures) {
                const decision = await failures.check(request.ip);
                if (decision.blocked) throw authRateLimitedError(decision);
            }
            const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
            const key = match ? await keys.authenticate(match[1]!) : undefined;
            if (!key) {
                await failures?.recordFailure(request.ip);
                if (!match) throw new QuandexError("invalid_api_key", { detail: "The Authorization header is not of the form 'Bearer <key>'." });
                throw new QuandexError("invalid_api_key", { detail: "The API key is not valid or was revoked." });
            }
            request.apiKey = key;
            if (!key.scopes.includes(scope) && !key.scopes.includes("admin")) {
                throw new QuandexError("insufficient_scope", { scope });
            }
        };
}
