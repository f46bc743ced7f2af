import type { ConversationMessage, ToolChoice, ToolDefinition } from "@quandex/engine";
import { QuandexError, type AnthropicContentBlock, type CountTokensRequest } from "@quandex/protocol";
import { checkToolSchema } from "../checkToolSchema.js";

function refuse(param: string, detail: string): QuandexError {
    return new QuandexError("invalid_parameter", { param, detail }, { param });
}

/** The parts of a request that make the prompt: the same for `/v1/messages` and `count_tokens`. */
type PromptFields = Pick<CountTokensRequest, "messages" | "system" | "tools" | "tool_choice" | "thinking">;

/**
 * Anthropic's `system`, `messages` and content blocks → the engine's conversation: text blocks
 * join with newlines, an assistant's `tool_use` blocks become its tool calls, a user's
 * `tool_result` blocks become tool turns (before the user's own text, in their order). A
 * `tool_result` must answer a `tool_use` of an earlier assistant turn. Images, documents and server
 * tools are refused by name; thinking blocks in the history are dropped (the model here does not think).
 */
export function conversationFromAnthropic(body: PromptFields): { messages: ConversationMessage[]; tools?: ToolDefinition[]; toolChoice?: ToolChoice } {
    if (body.thinking && body.thinking.type !== "disabled") throw refuse("thinking", 'extended thinking is not supported; send {"type": "disabled"} or leave it out.');
    const messages: ConversationMessage[] = [];
    if (body.system !== undefined) {
        const system = typeof body.system === "string" ? body.system : textOf(body.system, "system");
        if (system !== "") messages.push({ role: "system", content: system });
    }
    const calls = new Set<string>();
    body.messages.forEach((message, i) => {
        const at = `messages[${i}]`;
        if (typeof message.content === "string") {
            messages.push({ role: message.role, content: message.content });
            return;
        }
        const texts: string[] = [];
        const toolCalls: Array<{ id: string; name: string; arguments: string }> = [];
        message.content.forEach((block, j) => {
            const where = `${at}.content[${j}]`;
            switch (block.type) {
                case "text":
                    if (typeof block.text !== "string") throw refuse(`${where}.text`, "a text block needs its text.");
                    texts.push(block.text);
                    break;
                case "tool_use": {
                    if (message.role !== "assistant") throw refuse(`${where}.type`, "only assistant turns carry tool_use blocks.");
                    if (!block.id || !block.name) throw refuse(where, "a tool_use block needs its id and name.");
                    calls.add(block.id);
                    toolCalls.push({ id: block.id, name: block.name, arguments: JSON.stringify(block.input ?? {}) });
                    break;
                }
                case "tool_result": {
                    if (message.role !== "user") throw refuse(`${where}.type`, "only user turns carry tool_result blocks.");
                    if (!block.tool_use_id || !calls.has(block.tool_use_id))
                        throw refuse(`${where}.tool_use_id`, `no earlier tool_use block has the id '${block.tool_use_id ?? ""}'.`);
                    const content = toolResultText(block, where);
                    messages.push({ role: "tool", content: block.is_error ? `Error: ${content}` : content, toolCallId: block.tool_use_id });
                    break;
                }
                case "thinking":
                case "redacted_thinking":
                    break;
                default:
                    throw refuse(`${where}.type`, `'${block.type}' blocks are not supported; send text, tool_use and tool_result blocks.`);
            }
        });
        const content = texts.join("\n");
        if (toolCalls.length > 0) messages.push({ role: "assistant", content, toolCalls });
        else if (content !== "" || !message.content.some((b) => b.type === "tool_result")) messages.push({ role: message.role, content });
    });
    const tools = (body.tools ?? []).map((tool, i): ToolDefinition => {
        if (tool.type !== undefined && tool.type !== "custom") throw refuse(`tools[${i}].type`, `server tools ('${tool.type}') are not supported; send custom tools.`);
        checkToolSchema(tool.input_schema, `tools[${i}].input_schema`);
        return { name: tool.name, ...(tool.description !== undefined && { description: tool.description }), parameters: tool.input_schema };
    });
    const names = new Set<string>();
    tools.forEach((tool, i) => {
        if (names.has(tool.name)) throw refuse(`tools[${i}].name`, `the name '${tool.name}' is used twice.`);
        names.add(tool.name);
    });
    let toolChoice: ToolChoice | undefined;
    const choice = body.tool_choice;
    if (choice) {
        if (choice.type === "tool") {
            if (!choice.name) throw refuse("tool_choice.name", "a tool choice of type 'tool' needs the tool's name.");
            toolChoice = { name: choice.name };
        } else toolChoice = choice.type === "any" ? "required" : choice.type;
    }
    return { messages, ...(tools.length > 0 && { tools }), ...(toolChoice !== undefined && { toolChoice }) };
}

function textOf(blocks: readonly AnthropicContentBlock[], at: string): string {
    return blocks
        .map((block, j) => {
            if (block.type !== "text" || typeof block.text !== "string") throw refuse(`${at}[${j}]`, `only text blocks are supported here, not '${block.type}'.`);
            return block.text;
        })
        .join("\n");
}

function toolResultText(block: AnthropicContentBlock, at: string): string {
    const content = block.content;
    if (content === undefined) return "";
    if (typeof content === "string") return content;
    if (!Array.isArray(content)) throw refuse(`${at}.content`, "must be text or a list of text blocks.");
    return textOf(content as AnthropicContentBlock[], `${at}.content`);
}
