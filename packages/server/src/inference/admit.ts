import type { FastifyReply, FastifyRequest } from "fastify";
import type { PreparedEmbeddings, PreparedGeneration } from "@quandex/engine";
import { unmetered, type Admission } from "../http/access/AdmissionHooks.js";
import type { RoutePolicy } from "../http/access/RoutePolicy.js";
import type { EmbeddingRequest, GenerationRequest } from "./InferenceRequest.js";
import type { InferenceDeps } from "./InferenceDeps.js";
import { InferenceRun } from "./InferenceRun.js";
import type { RequestSignals } from "./RequestSignals.js";

/**
 * The admit step of the one request path, after the route's guard has checked the key, its scope
 * and its rate limit: the engine checks what can be checked before anything runs (the model exists
 * and loads, the prompt fits the context, the output format compiles), then the request counts
 * against the key's daily quota when its route's policy says so. The queue comes last, when the
 * run starts (`InferenceRun`), so a refusal by then is given back.
 */
export async function admitGeneration(
    deps: InferenceDeps,
    policy: RoutePolicy,
    parsed: GenerationRequest,
    request: FastifyRequest,
    reply: FastifyReply,
    signals: RequestSignals
): Promise<InferenceRun> {
    const { service } = deps;
    const { model, sampling, keepAliveMs, tools, toolChoice } = parsed;
    const cacheKey = promptCacheKey(deps.promptCache ?? "per_key", request);
    // The request log line and `/metrics` name the model even when admission refuses it.
    if (request.trace) {
        request.trace.model = model;
        if (deps.logPrompts) request.trace.prompt = parsed.inputs;
    }
    const prepared: PreparedGeneration[] = [];
    for (const input of parsed.inputs) {
        prepared.push(
            "messages" in input
                ? await service.prepareChat({ model, messages: input.messages, tools, toolChoice, sampling, keepAliveMs, cacheKey }, signals.engine)
                : await service.prepare({ model, prompt: input.prompt, sampling, keepAliveMs, cacheKey }, signals.engine)
        );
    }
    const admission = await charge(deps, policy, request, reply);
    const run = new InferenceRun(prepared, admission, signals.abortChoices, request.receivedAt);
    if (request.trace) {
        request.trace.model = run.model;
        request.trace.run = run;
        if (deps.logPrompts) run.outputs = parsed.inputs.map(() => "");
    }
    return run;
}

/** The admit step for embeddings: model, engine support and input lengths, then the quota. */
export async function admitEmbedding(
    deps: InferenceDeps,
    policy: RoutePolicy,
    parsed: EmbeddingRequest,
    request: FastifyRequest,
    reply: FastifyReply,
    signals: RequestSignals
): Promise<{ prepared: PreparedEmbeddings; admission: Admission }> {
    if (request.trace) request.trace.model = parsed.model;
    const prepared = await deps.service.prepareEmbeddings({ model: parsed.model, input: parsed.inputs, keepAliveMs: parsed.keepAliveMs }, signals.request);
    if (request.trace) request.trace.model = prepared.definition.id;
    return { prepared, admission: await charge(deps, policy, request, reply) };
}

/**
 * Whose evaluated prompts a request may reuse. Reuse shares only the model's KV state, never
 * text, but its speed can tell a key that another one sent the same prefix (the prompt-cache timing
 * channel), so by default a key reuses only its own; `shared` lets every key reuse every prefix.
 */
function promptCacheKey(mode: "per_key" | "shared" | "off", request: FastifyRequest): string | null {
    if (mode === "off") return null;
    if (mode === "shared") return "*";
    return request.apiKey ? `key:${request.apiKey.id}` : "anonymous";
}

function charge(deps: InferenceDeps, policy: RoutePolicy, request: FastifyRequest, reply: FastifyReply): Promise<Admission> {
    return policy.dailyQuota ? deps.quota.admit(request, reply) : Promise.resolve(unmetered);
}
