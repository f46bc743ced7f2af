import type { FastifyReply, FastifyRequest } from "fastify";
import type { ApiKeyRecord } from "../../keys/ApiKey.js";
import { dailyQuotaError, rateLimitError } from "../../limits/limitErrors.js";
import type { LimitStore } from "../../limits/LimitStore.js";
import { resolveKeyLimits, type KeyLimits } from "../../limits/KeyLimits.js";
import type { LimitsLogger } from "../../limits/LimitsLogger.js";
import type { RateDecision } from "../../limits/RateDecision.js";
import { rateLimitHeaders } from "../../limits/rateLimitHeaders.js";
import { unmetered, type Admission, type AdmissionHooks, type UsageReport } from "./AdmissionHooks.js";

declare module "fastify" {
    interface FastifyRequest {
        rateDecision?: RateDecision;
    }
}

/**
 * The per-key limits in the request pipeline: every authenticated request takes a rate token
 * (`onAuthenticated`, right after the scope check), and inference requests that reach the queue
 * count against the daily quota (`admit`). Every authenticated answer carries the headers.
 */
export class LimitsGate implements AdmissionHooks {
    constructor(
        private readonly store: LimitStore,
        private readonly defaults: KeyLimits,
        private readonly logger: LimitsLogger
    ) {
        resolveKeyLimits(defaults);
    }

    /** Resolved once per key record: key stores hand out the same record until the key changes. */
    private readonly resolved = new WeakMap<ApiKeyRecord, KeyLimits>();

    limitsFor(key: ApiKeyRecord): KeyLimits {
        let limits = this.resolved.get(key);
        if (!limits) {
            limits = this.resolveLimits(key);
            this.resolved.set(key, limits);
        }
        return limits;
    }

    private resolveLimits(key: ApiKeyRecord): KeyLimits {
        const { rps, burst, daily, unlimited } = key.limits;
        return resolveKeyLimits(this.defaults, {
            ...(rps !== null && { rps }),
            ...(burst !== null && { burst }),
            ...(daily !== null && { daily }),
            unlimited
        });
    }

    async onAuthenticated(request: FastifyRequest, reply: FastifyReply): Promise<void> {
        const key = request.apiKey;
        if (!key) return;
        const limits = this.limitsFor(key);
        // Unlimited keys get no headers, so there is nothing to read for them.
        // Together: with Redis these are two round trips, in parallel.
        const [rate, daily] = limits.unlimited
            ? [await this.store.consumeRate(key.id, limits), null]
            : await Promise.all([this.store.consumeRate(key.id, limits), this.store.peekDaily(key.id, limits)]);
        request.rateDecision = rate;
        reply.headers(rateLimitHeaders(rate, daily));
        if (!rate.allowed) throw rateLimitError(rate);
    }

    async admit(request: FastifyRequest, reply: FastifyReply): Promise<Admission> {
        const key = request.apiKey;
        if (!key) return unmetered;
        const limits = this.limitsFor(key);
        const daily = await this.store.admitDaily(key.id, limits);
        if (request.rateDecision) reply.headers(rateLimitHeaders(request.rateDecision, daily));
        if (!daily.allowed) throw dailyQuotaError(daily);
        let settled = false;
        return {
            refund: async () => {
                if (settled || !daily.counted) return;
                settled = true;
                await this.store.refundDaily(key.id, daily.day);
            },
            complete: async (usage: UsageReport) => {
                settled = true;
                try {
                    await this.store.recordUsage(key.id, usage);
                } catch (error) {
                    this.logger.warn({ err: error, keyId: key.id }, "usage not recorded");
                }
            }
        };
    }
}
