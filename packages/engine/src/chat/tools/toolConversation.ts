import { QuandexError } from "@quandex/protocol";
import type { ChatMessage, ConversationMessage, OutputConstraint, ToolChoice, ToolDefinition } from "../../Engine.js";
import { toGrammarSchema } from "../../constraints/jsonSchemaSubset.js";

/** How a chat with tools runs: the turns for the template, the grammar a forced call needs, and how to read the reply. */
export interface ToolPlan {
    messages: ChatMessage[];
    /** For a required or named tool: the reply is exactly one call. */
    constraint?: OutputConstraint;
    /** `null` when no tools take part: the reply is plain text. */
    mode: "free" | "forced" | null;
}

/**
 * Reduces a conversation with tools to the turns every chat template takes (system, user,
 * assistant), so tool calling works the same on every engine and every model, template or not:
 * - the tools, and how to call one, go into the system turn (added when there is none);
 * - an assistant turn's calls are written back in the form the model was told to use;
 * - a tool's answer becomes a user turn wrapped in `<tool_response>`, as Qwen's and Hermes's own
 *   templates render the `tool` role.
 * `none` hides the tools (earlier calls and answers stay in the history). A required or named
 * choice constrains the reply with a grammar to one JSON call of an offered tool, whose
 * `arguments` match its schema where the schema lies in the grammar's subset, and are any JSON
 * object where it does not (the schema still reaches the model in the prompt).
 * @throws QuandexError `invalid_parameter` for a named tool that was not offered, or tool choice without tools.
 */
export function planToolConversation(conversation: readonly ConversationMessage[], tools: readonly ToolDefinition[] = [], choice: ToolChoice = "auto"): ToolPlan {
    const messages = conversation.map(toChatMessage);
    if (tools.length === 0 || choice === "none") {
        if (typeof choice === "object" || choice === "required") {
            throw new QuandexError("invalid_parameter", { param: "tool_choice", detail: "a tool is required, but no tools were sent." }, { param: "tool_choice" });
        }
        return { messages, mode: null };
    }
    const offered = typeof choice === "object" ? tools.filter((tool) => tool.name === choice.name) : tools;
    if (offered.length === 0) {
        throw new QuandexError(
            "invalid_parameter",
            { param: "tool_choice", detail: `no tool named '${(choice as { name: string }).name}' was sent in tools.` },
            { param: "tool_choice" }
        );
    }
    const forced = choice !== "auto";
    const note = toolNote(tools, forced ? offered : null);
    const first = messages[0];
    if (first?.role === "system") messages[0] = { role: "system", content: `${first.content}\n\n${note}` };
    else messages.unshift({ role: "system", content: note });
    if (!forced) return { messages, mode: "free" };
    const branches = offered.map((tool) => ({
        type: "object",
        properties: { name: { const: tool.name }, arguments: argumentsSchema(tool) },
        required: ["name", "arguments"]
    }));
    const schema = branches.length === 1 ? branches[0]! : { oneOf: branches };
    return { messages, mode: "forced", constraint: { type: "json_schema", schema } };
}

function toChatMessage(message: ConversationMessage): ChatMessage {
    if (message.role === "tool") return { role: "user", content: `<tool_response>\n${message.content}\n</tool_response>` };
    if (message.role !== "assistant" || !message.toolCalls || message.toolCalls.length === 0) return { role: message.role, content: message.content };
    const calls = message.toolCalls.map((call) => `<tool_call>\n${JSON.stringify({ name: call.name, arguments: parseArguments(call.arguments) })}\n</tool_call>`);
    return { role: "assistant", content: [message.content, ...calls].filter((part) => part !== "").join("\n") };
}

function parseArguments(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

function argumentsSchema(tool: ToolDefinition): Record<string, unknown> {
    try {
        return toGrammarSchema(tool.parameters, "tools");
    } catch {
        return { type: "object", additionalProperties: true };
    }
}

function toolNote(tools: readonly ToolDefinition[], forced: readonly ToolDefinition[] | null): string {
    const lines = tools.map((tool) => JSON.stringify({ name: tool.name, ...(tool.description && { description: tool.description }), parameters: tool.parameters }));
    const how = forced
        ? `Call ${forced.length === 1 ? `the tool '${forced[0]!.name}'` : "one of these tools"} now. Answer with only the call, as JSON: {"name": <tool name>, "arguments": <arguments object>}`
        : 'To call a tool, answer with only:\n<tool_call>\n{"name": <tool name>, "arguments": <arguments object>}\n</tool_call>\nOtherwise answer normally.';
    return `You can call these tools (each one's arguments follow its JSON Schema "parameters"):\n${lines.join("\n")}\n${how}`;
}
