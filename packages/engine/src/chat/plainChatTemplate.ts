import type { ChatMessage } from "../Engine.js";

const labels: Record<ChatMessage["role"], string> = { system: "System", user: "User", assistant: "Assistant" };

/**
 * The chat template for models that carry none (like the stories260K test model): one line per
 * message, `System: …`, `User: …`, `Assistant: …`, then `Assistant:` for the reply to continue.
 * The reply ends where the model starts a new turn of its own, so the turn labels are stop strings.
 *
 * ```text
 * System: You are terse.
 * User: Hi
 * Assistant: Hello!
 * User: Tell me a story
 * Assistant:
 * ```
 */
export const plainChatTemplate = {
    name: "plain",
    stop: ["\nUser:", "\nSystem:", "\nAssistant:"] as readonly string[],
    render(messages: readonly ChatMessage[]): string {
        let text = "";
        for (const message of messages) text += `${labels[message.role]}: ${message.content}\n`;
        return `${text}${labels.assistant}:`;
    }
} as const;
