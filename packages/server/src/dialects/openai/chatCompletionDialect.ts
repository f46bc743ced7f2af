import { randomBytes } from "node:crypto";
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from "@quandex/protocol";
import type { GenerationDialect } from "../../inference/Dialect.js";
import type { ChoiceResult } from "../../inference/InferenceRun.js";
import { dataFrame, doneFrame } from "../../streaming/sseFrames.js";
import { openaiUsage } from "./openaiUsage.js";
import { keepAliveParam } from "../keepAliveParam.js";
import { chatMaxTokens, chatMessagesFromOpenAI, constraintFromResponseFormat, refuseUnsupportedChatFields, samplingFromOpenAI, toolsFromOpenAI } from "./toNative.js";

/**
 * OpenAI's chat completions: the messages are rendered with the model's chat template by the
 * engine (or the plain template). The assistant's reply starts at its first non-whitespace
 * character, as chat templates leave a space or newline after the assistant's header.
 */
/** A choice that called tools ended for them, as OpenAI reports it, unless it was cut off by max_tokens. */
function finishReasonOf(choice: ChoiceResult): "stop" | "length" | "tool_calls" {
    return choice.toolCalls.length > 0 && choice.finishReason === "stop" ? "tool_calls" : choice.finishReason;
}

export const chatCompletionDialect: GenerationDialect<ChatCompletionRequest, ChatCompletion> = {
    parse: (body) => {
        refuseUnsupportedChatFields(body);
        const messages = chatMessagesFromOpenAI(body.messages);
        const constraint = constraintFromResponseFormat(body.response_format);
        return {
            kind: "generation",
            model: body.model,
            inputs: [{ messages }],
            ...toolsFromOpenAI(body),
            sampling: { ...samplingFromOpenAI(body, chatMaxTokens(body)), ...(constraint && { constraint }) },
            stream: body.stream === true,
            keepAliveMs: keepAliveParam(body.keep_alive)
        };
    },
    renderer: (body, run) => {
        const id = `chatcmpl-${randomBytes(12).toString("hex")}`;
        const created = Math.floor(Date.now() / 1000);
        const model = run.model;
        return {
            json: ({ choices, usage }) => ({
                id,
                object: "chat.completion",
                created,
                model,
                choices: choices.map((choice) => {
                    const content = choice.text.trim() === "" && choice.toolCalls.length > 0 ? null : choice.text.trimStart();
                    return {
                        index: choice.index,
                        message: {
                            role: "assistant" as const,
                            content,
                            refusal: null,
                            ...(choice.toolCalls.length > 0 && {
                                tool_calls: choice.toolCalls.map((call) => ({ id: call.id, type: "function" as const, function: { name: call.name, arguments: call.arguments } }))
                            })
                        },
                        logprobs: null,
                        finish_reason: finishReasonOf(choice)
                    };
                }),
                usage: openaiUsage(usage)
            }),
            stream: () => {
                const includeUsage = body.stream_options?.include_usage === true;
                const base = { id, object: "chat.completion.chunk" as const, created, model, ...(includeUsage && { usage: null }) };
                const chunk = (
                    index: number,
                    delta: ChatCompletionChunk["choices"][number]["delta"],
                    finishReason: ChatCompletionChunk["choices"][number]["finish_reason"]
                ): string => dataFrame({ ...base, choices: [{ index, delta, logprobs: null, finish_reason: finishReason }] } satisfies ChatCompletionChunk);
                const replyStarted: boolean[] = [];
                return {
                    started: (index) => chunk(index, { role: "assistant", content: "" }, null),
                    text: (index, text) => {
                        const content = replyStarted[index] ? text : text.trimStart();
                        if (content === "") return undefined;
                        replyStarted[index] = true;
                        return chunk(index, { content }, null);
                    },
                    // A call goes out whole in one delta (id, name and all its arguments), which every OpenAI client accumulates the same way as pieces.
                    toolCall: (index, call, position) =>
                        chunk(index, { tool_calls: [{ index: position, id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } }] }, null),
                    finished: (choice) => chunk(choice.index, {}, finishReasonOf(choice)),
                    end: ({ usage }) => (includeUsage ? dataFrame({ ...base, choices: [], usage: openaiUsage(usage) } satisfies ChatCompletionChunk) : "") + doneFrame
                };
            }
        };
    }
};
