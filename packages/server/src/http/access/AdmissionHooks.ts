import type { FastifyReply, FastifyRequest } from "fastify";

export interface UsageReport {
    promptTokens: number;
    completionTokens: number;
}

/** One inference request that was let through to the queue. */
export interface Admission {
    /** It was refused before reaching the engine after all (queue full, shutdown): give the quota back. */
    refund(): Promise<void>;
    /** It finished; record its token usage. Never throws. */
    complete(usage: UsageReport): Promise<void>;
}

/**
 * Called by every inference route once a request passed validation and model checks, just before
 * it queues: this is where the daily quota charges, so 400/404/503 answers never count.
 */
export interface AdmissionHooks {
    admit(request: FastifyRequest, reply: FastifyReply): Promise<Admission>;
}

/** The admission of a request that counts against no quota: nothing to give back or record. */
export const unmetered: Admission = { async refund() {}, async complete() {} };

export const noAdmissionHooks: AdmissionHooks = {
    async admit() {
        return unmetered;
    }
};
