import { randomBytes } from "node:crypto";
import type { ConversationMessage, ToolCall, ToolDefinition } from "@quandex/engine";
import { QuandexError, type OllamaChatRequest } from "@quandex/protocol";
import type { GenerationDialect } from "../../inference/Dialect.js";
import { checkToolSchema } from "../checkToolSchema.js";
import { keepAliveParam } from "../keepAliveParam.js";
import { ollamaTimings } from "./ollamaTimings.js";
import { line, ollamaTransport } from "./ollamaTransport.js";
import { constraintFromOllama, refuseImages, samplingFromOllama } from "./samplingFromOllama.js";

const refuse = (param: string, detail: string): QuandexError => new QuandexError("invalid_parameter", { param, detail }, { param });

/** Ollama carries call arguments as an object and has no call ids. */
const ollamaCall = (call: ToolCall, index: number) => {
    let args: unknown;
    try {
        args = JSON.parse(call.arguments);
    } catch {
        args = {};
    }
    return { function: { index, name: call.name, arguments: args } };
};

function conversationFromOllama(body: OllamaChatRequest): ConversationMessage[] {
    return (body.messages ?? []).map((message, i): ConversationMessage => {
        const at = `messages[${i}]`;
        refuseImages(message.images, `${at}.images`);
        const role = message.role;
        if (role === "tool") return { role: "tool", content: message.content, ...(message.tool_name !== undefined && { name: message.tool_name }) };
        if (role !== "system" && role !== "user" && role !== "assistant") throw refuse(`${at}.role`, "must be one of system, user, assistant or tool.");
        const calls = message.tool_calls ?? [];
        if (calls.length > 0 && role !== "assistant") throw refuse(`${at}.tool_calls`, "only assistant messages carry tool calls.");
        if (calls.length === 0) return { role, content: message.content };
        return {
            role: "assistant",
            content: message.content,
            toolCalls: calls.map((call) => ({ id: `call_${randomBytes(12).toString("hex")}`, name: call.function.name, arguments: JSON.stringify(call.function.arguments ?? {}) }))
        };
    });
}

function toolsFromOllama(body: OllamaChatRequest): ToolDefinition[] | undefined {
    const tools = body.tools ?? [];
    if (tools.length === 0) return undefined;
    const names = new Set<string>();
    return tools.map((tool, i) => {
        const parameters = tool.function.parameters ?? { type: "object", properties: {} };
        checkToolSchema(parameters, `tools[${i}].function.parameters`);
        if (names.has(tool.function.name)) throw refuse(`tools[${i}].function.name`, `the name '${tool.function.name}' is used twice.`);
        names.add(tool.function.name);
        return { name: tool.function.name, ...(tool.function.description !== undefined && { description: tool.function.description }), parameters };
    });
}

/**
 * Ollama's `/api/chat`: messages through the model's chat template, tools through the engine's
 * tool calling (`auto`: Ollama has no tool_choice), NDJSON unless `stream: false`.
 */
export const ollamaChatDialect: GenerationDialect<OllamaChatRequest, Record<string, unknown>> = {
    transport: ollamaTransport,
    parse: (body) => {
        const messages = conversationFromOllama(body);
        if (messages.length === 0) throw refuse("messages", "send at least one message (an empty chat only loads a model in Ollama; use POST /v1/models/{id}/load).");
        const tools = toolsFromOllama(body);
        const constraint = constraintFromOllama(body.format);
        return {
            kind: "generation",
            model: body.model,
            inputs: [{ messages }],
            ...(tools && { tools }),
            sampling: { ...samplingFromOllama(body.options), ...(constraint && { constraint }) },
            stream: body.stream !== false,
            keepAliveMs: keepAliveParam(body.keep_alive)
        };
    },
    renderer: (_body, run) => {
        const model = run.model;
        return {
            json: ({ choices }) => {
                const choice = choices[0]!;
                const message = {
                    role: "assistant",
                    content: choice.text.trimStart(),
                    ...(choice.toolCalls.length > 0 && { tool_calls: choice.toolCalls.map(ollamaCall) })
                };
                return { model, created_at: new Date().toISOString(), message, done: true, done_reason: choice.finishReason, ...ollamaTimings(run, choice) };
            },
            stream: () => {
                let replyStarted = false;
                return {
                    text: (_index, piece) => {
                        const text = replyStarted ? piece : piece.trimStart();
                        if (text === "") return undefined;
                        replyStarted = true;
                        return line({ model, created_at: new Date().toISOString(), message: { role: "assistant", content: text }, done: false });
                    },
                    toolCall: (_index, call, position) =>
                        line({ model, created_at: new Date().toISOString(), message: { role: "assistant", content: "", tool_calls: [ollamaCall(call, position)] }, done: false }),
                    finished: (choice) =>
                        line({
                            model,
                            created_at: new Date().toISOString(),
                            message: { role: "assistant", content: "" },
                            done: true,
                            done_reason: choice.finishReason,
                            ...ollamaTimings(run, choice)
                        }),
                    end: () => ""
                };
            }
        };
    }
};
