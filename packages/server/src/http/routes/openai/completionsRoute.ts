import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { CompletionRequestSchema, CompletionSchema, openaiLimits, type Completion, type CompletionChunk, type CompletionRequest } from "@quandex/protocol";
import { errorResponses } from "../errorResponses.js";
import { ChoiceRun } from "./ChoiceRun.js";
import type { OpenAIRouteDeps } from "./OpenAIRouteDeps.js";
import { collectChoices, requestSignals, streamChoices, type ChunkFormat } from "./respond.js";
import { promptsFromOpenAI, samplingFromOpenAI } from "./toNative.js";

/**
 * `POST /v1/completions`: each prompt is one native generation and one choice (its `index` is the
 * prompt's position). They run side by side on the model's sequences; the request is admitted and
 * accounted once.
 */
export function completionsRoute(app: FastifyInstance, deps: OpenAIRouteDeps): void {
    app.post<{ Body: CompletionRequest }>(
        "/v1/completions",
        {
            config: { scope: "generate" },
            schema: {
                summary: "OpenAI-compatible text completion",
                description: "With `stream: true` the answer is text/event-stream: text_completion chunks, then `data: [DONE]`. See docs/openai.md.",
                tags: ["openai"],
                body: CompletionRequestSchema,
                response: { 200: CompletionSchema, ...errorResponses }
            }
        },
        async (request, reply) => {
            const body = request.body;
            const prompts = promptsFromOpenAI(body);
            const sampling = samplingFromOpenAI(body, body.max_tokens ?? openaiLimits.completionsDefaultMaxTokens);
            const signals = requestSignals(request, reply, deps.lifecycle);
            const prepared = [];
            for (const prompt of prompts) prepared.push(await deps.service.prepare({ model: body.model, prompt, sampling }, signals.engine));
            const admission = await deps.hooks.admit(request, reply);
            const run = new ChoiceRun(prepared, admission, signals.abortChoices);
            const id = `cmpl-${randomBytes(12).toString("hex")}`;
            const created = Math.floor(Date.now() / 1000);
            const model = prepared[0]!.definition.id;
            const echo = body.echo === true;

            if (body.stream === true) {
                const includeUsage = body.stream_options?.include_usage === true;
                const base = { id, object: "text_completion" as const, created, model, ...(includeUsage && { usage: null }) };
                const choice = (index: number, text: string, finishReason: CompletionChunk["choices"][number]["finish_reason"]): CompletionChunk => ({
                    ...base,
                    choices: [{ text, index, logprobs: null, finish_reason: finishReason }]
                });
                const format: ChunkFormat = {
                    started: (index) => (echo ? choice(index, prompts[index]!, null) : undefined),
                    text: (index, text) => choice(index, text, null),
                    finished: (index, reason) => choice(index, "", reason),
                    usage: (usage) => (includeUsage ? ({ ...base, choices: [], usage } satisfies CompletionChunk) : undefined)
                };
                return streamChoices(reply, request, run, format, signals, deps.keepAliveMs);
            }

            const results = await collectChoices(run, signals);
            return {
                id,
                object: "text_completion",
                created,
                model,
                choices: results.map((result, index) => ({
                    text: echo ? prompts[index]! + result.text : result.text,
                    index,
                    logprobs: null,
                    finish_reason: result.finishReason
                })),
                usage: run.usage
            } satisfies Completion;
        }
    );
}
