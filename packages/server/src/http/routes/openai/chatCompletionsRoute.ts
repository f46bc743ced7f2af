import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import {
    ChatCompletionRequestSchema,
    ChatCompletionSchema,
    type ChatCompletion,
    type ChatCompletionChunk,
    type ChatCompletionRequest
} from "@quandex/protocol";
import { errorResponses } from "../errorResponses.js";
import { ChoiceRun } from "./ChoiceRun.js";
import type { OpenAIRouteDeps } from "./OpenAIRouteDeps.js";
import { collectChoices, requestSignals, streamChoices, type ChunkFormat } from "./respond.js";
import { chatMaxTokens, chatMessagesFromOpenAI, constraintFromResponseFormat, refuseUnsupportedChatFields, samplingFromOpenAI } from "./toNative.js";

/**
 * `POST /v1/chat/completions`: the messages are rendered with the model's chat template by the
 * engine (or the plain template), then the request runs on the native path like `/v1/generate`.
 * The assistant's reply starts at its first non-whitespace character.
 */
export function chatCompletionsRoute(app: FastifyInstance, deps: OpenAIRouteDeps): void {
    app.post<{ Body: ChatCompletionRequest }>(
        "/v1/chat/completions",
        {
            config: { scope: "generate" },
            schema: {
                summary: "OpenAI-compatible chat completion",
                description: "With `stream: true` the answer is text/event-stream: chat.completion.chunk events, then `data: [DONE]`. See docs/openai.md.",
                tags: ["openai"],
                body: ChatCompletionRequestSchema,
                response: { 200: ChatCompletionSchema, ...errorResponses }
            }
        },
        async (request, reply) => {
            const body = request.body;
            refuseUnsupportedChatFields(body);
            const messages = chatMessagesFromOpenAI(body.messages);
            const constraint = constraintFromResponseFormat(body.response_format);
            const sampling = { ...samplingFromOpenAI(body, chatMaxTokens(body)), ...(constraint && { constraint }) };
            const signals = requestSignals(request, reply, deps.lifecycle);
            const prepared = await deps.service.prepareChat({ model: body.model, messages, sampling }, signals.engine);
            const admission = await deps.hooks.admit(request, reply);
            const run = new ChoiceRun([prepared], admission, signals.abortChoices);
            const id = `chatcmpl-${randomBytes(12).toString("hex")}`;
            const created = Math.floor(Date.now() / 1000);
            const model = prepared.definition.id;

            if (body.stream === true) {
                const includeUsage = body.stream_options?.include_usage === true;
                const base = { id, object: "chat.completion.chunk" as const, created, model, ...(includeUsage && { usage: null }) };
                const replyStarted: boolean[] = [];
                const format: ChunkFormat = {
                    started: (index) => chunk(base, index, { role: "assistant", content: "" }, null),
                    text: (index, text) => {
                        const content = replyStarted[index] ? text : text.trimStart();
                        if (content === "") return undefined;
                        replyStarted[index] = true;
                        return chunk(base, index, { content }, null);
                    },
                    finished: (index, reason) => chunk(base, index, {}, reason),
                    usage: (usage) => (includeUsage ? ({ ...base, choices: [], usage } satisfies ChatCompletionChunk) : undefined)
                };
                return streamChoices(reply, request, run, format, signals, deps.keepAliveMs);
            }

            const [result] = await collectChoices(run, signals);
            return {
                id,
                object: "chat.completion",
                created,
                model,
                choices: [{ index: 0, message: { role: "assistant", content: result!.text.trimStart(), refusal: null }, logprobs: null, finish_reason: result!.finishReason }],
                usage: run.usage
            } satisfies ChatCompletion;
        }
    );
}

function chunk(
    base: Omit<ChatCompletionChunk, "choices">,
    index: number,
    delta: ChatCompletionChunk["choices"][number]["delta"],
    finishReason: ChatCompletionChunk["choices"][number]["finish_reason"]
): ChatCompletionChunk {
    return { ...base, choices: [{ index, delta, logprobs: null, finish_reason: finishReason }] };
}
