import type { FastifyReply, FastifyRequest } from "fastify";
import type { KeyStore } from "../../keys/ApiKey.js";
import type { AuthFailureLimiter } from "../../limits/AuthFailureLimiter.js";
import { endOfTurn } from "../endOfTurn.js";
import { authenticate } from "./authenticate.js";
import type { LimitsGate } from "./LimitsGate.js";
import type { RoutePolicy } from "./RoutePolicy.js";

type OnRequest = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * Builds a route's `onRequest` hook from its {@link RoutePolicy}: authentication and scope, then
 * the key's rate limit. It runs before the body is read, so an unauthenticated or throttled client
 * sends no body for nothing and learns nothing about validation. The daily quota is not charged
 * here but by the inference path once the request has passed validation (`inference/admit.ts`),
 * so 400, 404 and 503 answers never count.
 */
export class AccessGuard {
    /** One hook per policy object: routes that share a policy share a closure. */
    private readonly hooks = new Map<RoutePolicy, OnRequest | undefined>();

    constructor(
        private readonly keys: KeyStore,
        private readonly authFailures?: AuthFailureLimiter,
        private readonly limits?: LimitsGate
    ) {}

    /** The `onRequest` hook for `policy`, or `undefined` for a public route (which pays nothing). */
    guard(policy: RoutePolicy): OnRequest | undefined {
        if (!this.hooks.has(policy)) this.hooks.set(policy, this.build(policy));
        return this.hooks.get(policy);
    }

    private build(policy: RoutePolicy): OnRequest | undefined {
        const scope = policy.scope;
        if (scope === null) return undefined;
        const check = authenticate(this.keys, this.authFailures, scope, policy.anonymousKeyId);
        const limits = policy.rateLimit ? this.limits : undefined;
        // An admitted request's remaining work (body, handler, answer) runs at the end of the
        // event-loop turn, with every other request that turn admitted. Answering one by one, each
        // write to a client that had gone idle woke it (on a VM, an inter-processor interrupt inside
        // our write call); a turn's answers written back to back wake it once, and the handlers run
        // back to back on warm caches. Measured with autocannon on loopback (DEVELOPERS.md, "The
        // control plane's cost per request"): server CPU per authenticated GET /v1/models fell from
        // about 50 to 38 µs. A lone request waits one `setImmediate`; under load a request waits for
        // the turn's earlier ones, tens of microseconds each. Refusals (401, 403, 429) go out at once.
        return async (request, reply) => {
            await check(request);
            if (limits) await limits.onAuthenticated(request, reply);
            await endOfTurn();
        };
    }
}
