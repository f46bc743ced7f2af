import type { FastifyRequest } from "fastify";

export interface UsageReport {
    promptTokens: number;
    completionTokens: number;
}

/**
 * Called by inference routes around the engine: `admit` once a request passed validation and
 * model checks (the daily quota charges here), `complete` when it finished (usage accounting).
 */
export interface AdmissionHooks {
    admit(request: FastifyRequest): Promise<void>;
    complete(request: FastifyRequest, usage: UsageReport): Promise<void>;
}

export const noAdmissionHooks: AdmissionHooks = {
    async admit() {},
    async complete() {}
};
