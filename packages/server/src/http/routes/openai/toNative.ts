import type { ChatMessage, OutputConstraint, SamplingOptions } from "@quandex/engine";
import { QuandexError, type ChatCompletionRequest, type CompletionRequest, type EmbeddingRequest, type ResponseFormat } from "@quandex/protocol";

/**
 * OpenAI request fields → the native request. Fields Quandex cannot honour are refused with a 400
 * that names them, unless they carry their no-op value (`null`, `false`, `[]`, `n: 1`), which many
 * OpenAI tools send by default.
 */

type SamplingFields = Pick<
    ChatCompletionRequest,
    "temperature" | "top_p" | "top_k" | "repeat_penalty" | "seed" | "stop" | "n" | "logit_bias" | "presence_penalty" | "frequency_penalty"
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

/** Refuses the chat fields that would need tools, log probabilities or storage. */
export function refuseUnsupportedChatFields(body: ChatCompletionRequest): void {
    if (body.logprobs === true) throw refuse("logprobs", "log probabilities are not supported.");
    if (body.top_logprobs != null && body.top_logprobs > 0) throw refuse("top_logprobs", "log probabilities are not supported.");
    for (const field of ["tools", "functions"] as const) {
        const value = body[field];
        if (value != null && !(Array.isArray(value) && value.length === 0)) throw refuse(field, "tool and function calling are not supported.");
    }
    for (const field of ["tool_choice", "function_call"] as const) {
        const value = body[field];
        if (value != null && value !== "none" && value !== "auto") throw refuse(field, "tool and function calling are not supported; only \"none\" or \"auto\".");
    }
    if (body.store === true) throw refuse("store", "Quandex does not store completions.");
}

/** Chat messages → native turns: `developer` reads as `system`, text parts are joined with newlines. */
export function chatMessagesFromOpenAI(messages: ChatCompletionRequest["messages"]): ChatMessage[] {
    return messages.map((message, i) => {
        const at = `messages[${i}]`;
        const role = message.role === "developer" ? "system" : message.role;
        if (role === "tool" || role === "function") throw refuse(`${at}.role`, "tool and function messages are not supported (no tool calling).");
        if (role !== "system" && role !== "user" && role !== "assistant") throw refuse(`${at}.role`, "must be one of system, developer, user or assistant.");
        if (message.tool_calls != null && !(Array.isArray(message.tool_calls) && message.tool_calls.length === 0)) {
            throw refuse(`${at}.tool_calls`, "tool calls are not supported.");
        }
        if (message.tool_call_id != null) throw refuse(`${at}.tool_call_id`, "tool messages are not supported.");
        if (message.function_call != null) throw refuse(`${at}.function_call`, "function calls are not supported.");
        const content = message.content;
        if (content === null) throw refuse(`${at}.content`, "must be text or a list of text parts.");
        if (typeof content === "string") return { role, content };
        const texts = content.map((part, j) => {
            if (part.type !== "text" || typeof part.text !== "string") throw refuse(`${at}.content[${j}]`, `only text parts are supported, not '${part.type}'.`);
            return part.text;
        });
        return { role, content: texts.join("\n") };
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
