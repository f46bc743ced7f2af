import { randomBytes } from "node:crypto";
import type { Message, MessagesRequest } from "@quandex/protocol";
import type { ChoiceResult } from "../../inference/InferenceRun.js";
import type { GenerationDialect } from "../../inference/Dialect.js";
import { eventFrame } from "../../streaming/sseFrames.js";
import type { StreamTransport } from "../../streaming/StreamTransport.js";
import { keepAliveParam } from "../keepAliveParam.js";
import { anthropicError } from "./anthropicError.js";
import { conversationFromAnthropic } from "./conversationFromAnthropic.js";

type StopReason = Message["stop_reason"];
type Usage = Message["usage"];

/** Anthropic's streams are SSE whose every frame is a named event, pings and errors included. */
export const anthropicTransport: StreamTransport = {
    contentType: "text/event-stream; charset=utf-8",
    ping: eventFrame("ping", { type: "ping" }),
    errorFrame: (error) => eventFrame("error", anthropicError(error))
};

/** Anthropic's `toolu_` ids, from the engine's call ids (same random part, so a call keeps one identity). */
const toolUseId = (callId: string): string => `toolu_${callId.replace(/^call_/, "")}`;

/**
 * Why a turn ended, in Anthropic's words: a request's own stop sequence is `stop_sequence` (and
 * named); a template's end-of-turn, or EOS, is `end_turn`; tool calls are `tool_use`.
 */
function stopOf(choice: ChoiceResult, body: MessagesRequest): { stop_reason: StopReason; stop_sequence: string | null } {
    if (choice.finishReason === "length") return { stop_reason: "max_tokens", stop_sequence: null };
    if (choice.toolCalls.length > 0) return { stop_reason: "tool_use", stop_sequence: null };
    const matched = choice.done.stopSequence;
    if (matched && body.stop_sequences?.includes(matched)) return { stop_reason: "stop_sequence", stop_sequence: matched };
    return { stop_reason: "end_turn", stop_sequence: null };
}

/** Anthropic counts prompt tokens read from a cache apart from the ones evaluated. */
function usageOf(counts: { prompt_tokens: number; completion_tokens: number; cached_tokens: number }): Usage {
    return {
        input_tokens: counts.prompt_tokens - counts.cached_tokens,
        output_tokens: counts.completion_tokens,
        cache_read_input_tokens: counts.cached_tokens,
        cache_creation_input_tokens: 0
    };
}

const parseArguments = (text: string): unknown => {
    try {
        return JSON.parse(text);
    } catch {
        return {};
    }
};

/**
 * Anthropic's Messages API on the one request path: `system` and content blocks become the
 * engine's conversation (rendered by the model's chat template), tools go through the engine's
 * tool calling, and the answer is Anthropic's message or its event stream (`message_start`, one
 * `content_block_*` run per text or tool_use block, `message_delta` with the stop reason and
 * usage, `message_stop`).
 */
export const messagesDialect: GenerationDialect<MessagesRequest, Message> = {
    transport: anthropicTransport,
    parse: (body) => {
        const { messages, tools, toolChoice } = conversationFromAnthropic(body);
        return {
            kind: "generation",
            model: body.model,
            inputs: [{ messages }],
            ...(tools && { tools }),
            ...(toolChoice !== undefined && { toolChoice }),
            sampling: {
                maxTokens: body.max_tokens,
                ...(body.temperature !== undefined && { temperature: body.temperature }),
                ...(body.top_p !== undefined && { topP: body.top_p }),
                ...(body.top_k !== undefined && { topK: body.top_k }),
                ...(body.stop_sequences !== undefined && { stop: body.stop_sequences })
            },
            stream: body.stream === true,
            keepAliveMs: keepAliveParam(body.keep_alive)
        };
    },
    renderer: (body, run) => {
        const id = `msg_${randomBytes(12).toString("hex")}`;
        const model = run.model;
        return {
            json: ({ choices, usage }) => {
                const choice = choices[0]!;
                const text = choice.text.trimStart();
                const content: Message["content"] = [];
                if (text !== "" || choice.toolCalls.length === 0) content.push({ type: "text", text });
                for (const call of choice.toolCalls) content.push({ type: "tool_use", id: toolUseId(call.id), name: call.name, input: parseArguments(call.arguments) });
                return { id, type: "message", role: "assistant", model, content, ...stopOf(choice, body), usage: usageOf(usage) };
            },
            stream: () => {
                let block = -1;
                let textOpen = false;
                let replyStarted = false;
                const openText = (): string => {
                    textOpen = true;
                    block++;
                    return eventFrame("content_block_start", { type: "content_block_start", index: block, content_block: { type: "text", text: "" } });
                };
                const closeText = (): string => {
                    if (!textOpen) return "";
                    textOpen = false;
                    return eventFrame("content_block_stop", { type: "content_block_stop", index: block });
                };
                return {
                    started: () =>
                        eventFrame("message_start", {
                            type: "message_start",
                            message: {
                                id,
                                type: "message",
                                role: "assistant",
                                model,
                                content: [],
                                stop_reason: null,
                                stop_sequence: null,
                                usage: { input_tokens: run.promptTokens, output_tokens: 0 }
                            }
                        }) + eventFrame("ping", { type: "ping" }),
                    text: (_index, piece) => {
                        const text = replyStarted ? piece : piece.trimStart();
                        if (text === "") return undefined;
                        replyStarted = true;
                        return (textOpen ? "" : openText()) + eventFrame("content_block_delta", { type: "content_block_delta", index: block, delta: { type: "text_delta", text } });
                    },
                    toolCall: (_index, call) => {
                        const before = closeText();
                        block++;
                        return (
                            before +
                            eventFrame("content_block_start", {
                                type: "content_block_start",
                                index: block,
                                content_block: { type: "tool_use", id: toolUseId(call.id), name: call.name, input: {} }
                            }) +
                            eventFrame("content_block_delta", { type: "content_block_delta", index: block, delta: { type: "input_json_delta", partial_json: call.arguments } }) +
                            eventFrame("content_block_stop", { type: "content_block_stop", index: block })
                        );
                    },
                    finished: (choice) => {
                        // A turn with no block at all still carries one (empty) text block, as Anthropic's do.
                        const empty = block < 0 ? openText() : "";
                        const usage = usageOf({
                            prompt_tokens: choice.done.promptTokens,
                            completion_tokens: choice.done.completionTokens,
                            cached_tokens: choice.done.cachedTokens
                        });
                        return (
                            empty +
                            closeText() +
                            eventFrame("message_delta", {
                                type: "message_delta",
                                delta: stopOf(choice, body),
                                usage: { output_tokens: usage.output_tokens, input_tokens: usage.input_tokens, cache_read_input_tokens: usage.cache_read_input_tokens }
                            })
                        );
                    },
                    end: () => eventFrame("message_stop", { type: "message_stop" })
                };
            }
        };
    }
};
