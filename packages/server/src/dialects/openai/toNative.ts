import type { ConversationMessage, OutputConstraint, SamplingOptions, ToolChoice, ToolDefinition } from "@quandex/engine";
import { checkToolSchema } from "../checkToolSchema.js";
import { QuandexError, type ChatCompletionRequest, type CompletionRequest, type EmbeddingRequest, type ResponseFormat } from "@quandex/protocol";

/**
 * OpenAI request fields → the native request. Fields Quandex cannot honour are refused with a 400
 * that names them, unless they carry their no-op value (`null`, `false`, `[]`, `n: 1`), which many
 * OpenAI tools send by default.
 */

type SamplingFields = Pick<
    ChatCompletionRequest,
    "temperature" | "top_p" | "top_k" | "repeat_penalty" | "seed" | "stop" | "n" | "logit_bias" | "presence_penalty" | "frequency_penalty" | "ignore_eos"
>;

export function refuse(param: string, detail: string): QuandexError {
    return new QuandexError("invalid_parameter", { param, detail }, { param });
}

/** The sampling options both text routes share. */
export function samplingFromOpenAI(body: SamplingFields, maxTokens: number | undefined): Partial<SamplingOptions> {
    if (body.n != null && body.n !== 1) throw refuse("n", "only n=1 is supported; send separate requests for more choices.");
    if (body.logit_bias != null && Object.keys(body.logit_bias).length > 0) throw refuse("logit_bias", "logit_bias is not supported.");
    const sampling: Partial<SamplingOptions> = {};
    if (body.temperature != null) sampling.temperature = body.temperature;
    if (body.top_p != null) sampling.topP = body.top_p;
    if (body.top_k != null) sampling.topK = body.top_k;
    if (body.repeat_penalty != null) sampling.repeatPenalty = body.repeat_penalty;
    if (body.presence_penalty != null) sampling.presencePenalty = body.presence_penalty;
    if (body.frequency_penalty != null) sampling.frequencyPenalty = body.frequency_penalty;
    // OpenAI seeds are any integer; the engine's are uint32. Equal seeds still give equal output.
    if (body.seed != null) sampling.seed = ((body.seed % 2 ** 32) + 2 ** 32) % 2 ** 32;
    if (body.stop != null) sampling.stop = typeof body.stop === "string" ? [body.stop] : body.stop;
    if (body.ignore_eos != null) sampling.ignoreEos = body.ignore_eos;
    if (maxTokens !== undefined) sampling.maxTokens = maxTokens;
    return sampling;
}

/** `max_completion_tokens` is OpenAI's newer name for `max_tokens`; both are accepted, and must agree when both are sent. */
export function chatMaxTokens(body: ChatCompletionRequest): number | undefined {
    const { max_tokens: legacy, max_completion_tokens: current } = body;
    if (legacy != null && current != null && legacy !== current) {
        throw refuse("max_completion_tokens", `it differs from max_tokens (${current} vs ${legacy}); send one of them.`);
    }
    return current ?? legacy ?? undefined;
}

/** Refuses the chat fields that would need log probabilities, storage or the legacy `functions` API. */
export function refuseUnsupportedChatFields(body: ChatCompletionRequest): void {
    if (body.logprobs === true) throw refuse("logprobs", "log probabilities are not supported.");
    if (body.top_logprobs != null && body.top_logprobs > 0) throw refuse("top_logprobs", "log probabilities are not supported.");
    const { functions, function_call: functionCall } = body;
    if (functions != null && !(Array.isArray(functions) && functions.length === 0)) throw refuse("functions", "the legacy functions API is not supported; send tools.");
    if (functionCall != null && functionCall !== "none" && functionCall !== "auto") throw refuse("function_call", "the legacy functions API is not supported; send tool_choice.");
    if (body.store === true) throw refuse("store", "Quandex does not store completions.");
}

/** `tools` and `tool_choice` → the engine's tools; `tool_choice` defaults to `auto` with tools, as OpenAI's does. */
export function toolsFromOpenAI(body: ChatCompletionRequest): { tools?: ToolDefinition[]; toolChoice?: ToolChoice } {
    const tools = (body.tools ?? []).map((tool) => ({
        name: tool.function.name,
        ...(tool.function.description !== undefined && { description: tool.function.description }),
        parameters: tool.function.parameters ?? { type: "object", properties: {} }
    }));
    const names = new Set<string>();
    for (const [i, tool] of tools.entries()) {
        checkToolSchema(tool.parameters, `tools[${i}].function.parameters`);
        if (names.has(tool.name)) throw refuse(`tools[${i}].function.name`, `the name '${tool.name}' is used twice.`);
        names.add(tool.name);
    }
    const choice = body.tool_choice;
    const toolChoice: ToolChoice | undefined = choice == null ? undefined : typeof choice === "string" ? choice : { name: choice.function.name };
    return { ...(tools.length > 0 && { tools }), ...(toolChoice !== undefined && { toolChoice }) };
}

/** Chat messages → native turns: `developer` reads as `system`, text parts are joined with newlines; tool calls and tool answers keep their ids. */
export function chatMessagesFromOpenAI(messages: ChatCompletionRequest["messages"]): ConversationMessage[] {
    const callIds = new Set<string>();
    return messages.map((message, i): ConversationMessage => {
        const at = `messages[${i}]`;
        const role = message.role === "developer" ? "system" : message.role;
        if (role === "function") throw refuse(`${at}.role`, "function messages (the legacy functions API) are not supported; send tool messages.");
        if (role !== "system" && role !== "user" && role !== "assistant" && role !== "tool")
            throw refuse(`${at}.role`, "must be one of system, developer, user, assistant or tool.");
        if (message.function_call != null) throw refuse(`${at}.function_call`, "the legacy functions API is not supported; send tool_calls.");
        const calls = message.tool_calls ?? [];
        if (calls.length > 0 && role !== "assistant") throw refuse(`${at}.tool_calls`, "only assistant messages carry tool calls.");
        if (role === "tool" && (message.tool_call_id == null || message.tool_call_id === ""))
            throw refuse(`${at}.tool_call_id`, "a tool message needs the id of the call it answers.");
        if (role === "tool" && !callIds.has(message.tool_call_id!))
            throw refuse(`${at}.tool_call_id`, `no earlier assistant message has a tool call with the id '${message.tool_call_id!}'.`);
        for (const call of calls) callIds.add(call.id);
        const content = message.content;
        let text: string;
        if (content === null) {
            if (calls.length === 0) throw refuse(`${at}.content`, "must be text or a list of text parts.");
            text = "";
        } else if (typeof content === "string") {
            text = content;
        } else {
            text = content
                .map((part, j) => {
                    if (part.type !== "text" || typeof part.text !== "string") throw refuse(`${at}.content[${j}]`, `only text parts are supported, not '${part.type}'.`);
                    return part.text;
                })
                .join("\n");
        }
        if (role === "tool") return { role, content: text, toolCallId: message.tool_call_id! };
        if (calls.length > 0)
            return { role: "assistant", content: text, toolCalls: calls.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments })) };
        return { role, content: text };
    });
}

/** `response_format` → the grammar constraint that enforces it; `text` needs none. */
export function constraintFromResponseFormat(format: ResponseFormat | null | undefined): OutputConstraint | undefined {
    if (!format || format.type === "text") return undefined;
    if (format.type === "json_object") return { type: "json" };
    if (!format.json_schema) throw refuse("response_format.json_schema", "this field is required when type is 'json_schema'.");
    if (!format.json_schema.schema) throw refuse("response_format.json_schema.schema", "this field is required when type is 'json_schema'.");
    return { type: "json_schema", schema: format.json_schema.schema };
}

/** Completions prompts: a string or a list of strings; token-id prompts are refused. */
export function promptsFromOpenAI(body: CompletionRequest): string[] {
    if (body.suffix != null && body.suffix !== "") throw refuse("suffix", "suffix (fill-in-the-middle) is not supported.");
    if (body.best_of != null && body.best_of !== 1) throw refuse("best_of", "only best_of=1 is supported.");
    if (body.logprobs != null) throw refuse("logprobs", "log probabilities are not supported.");
    if (typeof body.prompt === "string") return [body.prompt];
    return body.prompt.map((prompt, i) => {
        if (typeof prompt !== "string") throw refuse(`prompt[${i}]`, "token-id prompts are not supported; send text.");
        return prompt;
    });
}

/** Embedding inputs: non-empty strings; token-id inputs are refused. */
export function inputsFromOpenAI(body: EmbeddingRequest): string[] {
    if (body.dimensions != null) throw refuse("dimensions", "vectors always have the model's embedding size; send null.");
    const inputs = typeof body.input === "string" ? [body.input] : body.input;
    return inputs.map((input, i) => {
        const at = typeof body.input === "string" ? "input" : `input[${i}]`;
        if (typeof input !== "string") throw refuse(at, "token-id inputs are not supported; send text.");
        if (input === "") throw refuse(at, "must not be empty.");
        return input;
    });
}
