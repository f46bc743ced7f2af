import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { GenerationEvent, InferenceService, PreparedEvent, PreparedGeneration } from "@quandex/engine";
import {
    ErrorBodySchema,
    formatBytes,
    formatDuration,
    GenerateRequestSchema,
    GenerateResponseSchema,
    QuandexError,
    type GenerateChunk,
    type GenerateRequest,
    type GenerateResponse,
    type MetalStats
} from "@quandex/protocol";
import { abortError, awaitFirstEvent, sendEventStream } from "../../streaming/eventStream.js";
import { dataFrame, doneFrame } from "../../streaming/sseFrames.js";
import type { AdmissionHooks } from "../AdmissionHooks.js";
import { withAdmission } from "../withAdmission.js";
import type { Lifecycle } from "../Lifecycle.js";
import { errorResponses } from "./errorResponses.js";
import { requestSignal } from "./requestSignal.js";

type Done = Extract<GenerationEvent, { type: "done" }>;

export interface GenerateRouteDeps {
    service: InferenceService;
    lifecycle: Lifecycle;
    hooks: AdmissionHooks;
    keepAliveMs: number;
}

export function generateRoute(app: FastifyInstance, deps: GenerateRouteDeps): void {
    app.post<{ Body: GenerateRequest }>(
        "/v1/generate",
        {
            config: { scope: "generate" },
            schema: {
                summary: "Generate text from a prompt",
                description: "With `stream: true` the answer is text/event-stream: GenerateChunk events, then `data: [DONE]`.",
                tags: ["inference"],
                body: GenerateRequestSchema,
                response: { 200: GenerateResponseSchema, ...errorResponses }
            }
        },
        async (request, reply) => {
            const body = request.body;
            const signal = requestSignal(request, reply, deps.lifecycle);
            const prepared = await deps.service.prepare(
                {
                    model: body.model,
                    prompt: body.prompt,
                    sampling: {
                        temperature: body.temperature,
                        topP: body.top_p,
                        topK: body.top_k,
                        seed: body.seed,
                        repeatPenalty: body.repeat_penalty,
                        ignoreEos: body.ignore_eos,
                        maxTokens: body.max_tokens,
                        stop: body.stop === undefined ? undefined : typeof body.stop === "string" ? [body.stop] : body.stop
                    }
                },
                signal
            );
            const admission = await deps.hooks.admit(request, reply);
            const id = `gen_${randomBytes(12).toString("hex")}`;
            const events = withAdmission(prepared.events(), admission);
            if (body.stream === true) return stream(request, reply, { id, model: body.model, prepared, events, signal, deps });
            return collect(request, { id, model: body.model, prepared, events, signal, deps });
        }
    );
}

interface RunContext {
    id: string;
    model: string;
    prepared: PreparedGeneration;
    events: AsyncGenerator<PreparedEvent>;
    signal: AbortSignal;
    deps: GenerateRouteDeps;
}

async function collect(request: FastifyRequest, run: RunContext): Promise<GenerateResponse> {
    let text = "";
    let queuedMs = 0;
    let done: Done | undefined;
    for await (const event of run.events) {
        if (event.type === "text") text += event.text;
        else if (event.type === "started") queuedMs = event.queuedMs;
        else done = event;
    }
    if (!done) throw abortError(run.signal);
    return {
        id: run.id,
        model: run.model,
        choices: [{ text, finish_reason: done.finishReason }],
        usage: usage(done),
        metal_stats: metalStats(run.prepared, done, queuedMs, performance.now() - request.receivedAt)
    };
}

async function stream(request: FastifyRequest, reply: FastifyReply, run: RunContext): Promise<FastifyReply> {
    const { first } = await awaitFirstEvent(run.events, run.signal, run.deps.keepAliveMs);
    return sendEventStream(reply, request, sseFrames(request, run, first), run.signal, run.deps.keepAliveMs);
}

async function* sseFrames(request: FastifyRequest, run: RunContext, first: Promise<IteratorResult<PreparedEvent>>): AsyncGenerator<string> {
    let queuedMs = 0;
    try {
        for (let next = await first; !next.done; next = await run.events.next()) {
            const event = next.value;
            if (event.type === "started") {
                queuedMs = event.queuedMs;
                continue;
            }
            if (event.type === "text") {
                yield dataFrame({ id: run.id, model: run.model, choices: [{ text: event.text, finish_reason: null }] } satisfies GenerateChunk);
                continue;
            }
            const last: GenerateChunk = {
                id: run.id,
                model: run.model,
                choices: [{ text: "", finish_reason: event.finishReason }],
                usage: usage(event),
                metal_stats: metalStats(run.prepared, event, queuedMs, performance.now() - request.receivedAt)
            };
            yield dataFrame(last);
            yield doneFrame;
            return;
        }
        throw abortError(run.signal);
    } finally {
        await run.events.return(undefined);
    }
}

function usage(done: Done): GenerateResponse["usage"] {
    return { prompt_tokens: done.promptTokens, completion_tokens: done.completionTokens, total_tokens: done.promptTokens + done.completionTokens };
}

function metalStats(prepared: PreparedGeneration, done: Done, queuedMs: number, elapsedMs: number): MetalStats {
    const resources = prepared.resources();
    const seconds = done.generationMs / 1000;
    return {
        backend: resources.backend,
        mps_allocated: formatBytes(resources.acceleratorBytes),
        mps_allocated_bytes: resources.acceleratorBytes,
        batch_size: done.batchSize,
        processing_time: formatDuration(elapsedMs),
        processing_time_ms: round(elapsedMs),
        queue_time_ms: round(queuedMs),
        tokens_per_second: seconds > 0 ? round(done.completionTokens / seconds) : 0,
        gpu_layers: resources.gpuLayers
    };
}

function round(value: number): number {
    return Math.round(value * 100) / 100;
}
