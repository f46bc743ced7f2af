import { randomBytes } from "node:crypto";
import type { ToolCall } from "../../Engine.js";

/** What the extractor hands on: text the client sees, or a call it parsed. */
export type ExtractedPiece = { type: "text"; text: string } | { type: "tool_call"; call: ToolCall };

const open = "<tool_call>";
const close = "</tool_call>";

/** A fresh call id in OpenAI's shape (`call_` and 24 hex digits). */
export function newToolCallId(): string {
    return `call_${randomBytes(12).toString("hex")}`;
}

/**
 * Reads a model's streamed reply and takes its tool calls out of it. The engine prompts tool-aware
 * models to write a call as `<tool_call>{"name": …, "arguments": {…}}</tool_call>` (the Hermes
 * format that Qwen, Hermes and many fine-tunes were trained on, and what their own templates use),
 * so the same reading serves every engine and template.
 *
 * In `free` mode (tool choice `auto`) text streams through as it comes, except a tail that could
 * still become `<tool_call>`, which waits for the next piece; a call is handed on whole once its
 * closing tag (or the end of the reply) arrives. A call whose body is not a JSON object with a
 * string `name` was not a call: it goes out as the text it was.
 *
 * In `forced` mode (a required or named tool) the grammar made the whole reply one bare JSON
 * object `{"name", "arguments"}`: nothing streams, and the end turns it into one call.
 */
export class ToolCallExtractor {
    private buffer = "";
    private inCall = false;
    private calls = 0;

    constructor(private readonly mode: "free" | "forced") {}

    /** How many calls it handed on so far. */
    get callCount(): number {
        return this.calls;
    }

    push(text: string): ExtractedPiece[] {
        this.buffer += text;
        if (this.mode === "forced") return [];
        const pieces: ExtractedPiece[] = [];
        for (;;) {
            if (!this.inCall) {
                const at = this.buffer.indexOf(open);
                if (at < 0) {
                    const keep = partialTagLength(this.buffer, open);
                    const ready = this.buffer.slice(0, this.buffer.length - keep);
                    if (ready !== "") pieces.push({ type: "text", text: ready });
                    this.buffer = this.buffer.slice(this.buffer.length - keep);
                    return pieces;
                }
                if (at > 0) pieces.push({ type: "text", text: this.buffer.slice(0, at) });
                this.buffer = this.buffer.slice(at + open.length);
                this.inCall = true;
            }
            const end = this.buffer.indexOf(close);
            if (end < 0) return pieces;
            pieces.push(this.callOrText(this.buffer.slice(0, end), true));
            this.buffer = this.buffer.slice(end + close.length);
            this.inCall = false;
        }
    }

    /** The reply ended: whatever is held back goes out (a call cut short by the end of the turn still counts when it parses). */
    end(): ExtractedPiece[] {
        const rest = this.buffer;
        this.buffer = "";
        if (this.mode === "forced") return rest.trim() === "" ? [] : [this.callOrText(rest, false)];
        if (this.inCall) {
            this.inCall = false;
            return [this.callOrText(rest, true)];
        }
        return rest === "" ? [] : [{ type: "text", text: rest }];
    }

    private callOrText(body: string, tagged: boolean): ExtractedPiece {
        const call = parseCall(body);
        if (call) {
            this.calls++;
            return { type: "tool_call", call };
        }
        return { type: "text", text: tagged ? `${open}${body}` : body };
    }
}

function parseCall(body: string): ToolCall | undefined {
    let value: unknown;
    try {
        value = JSON.parse(body.trim());
    } catch {
        return undefined;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    const { name, arguments: args, parameters } = value as Record<string, unknown>;
    if (typeof name !== "string" || name === "") return undefined;
    // Some models write `parameters` for `arguments`; both mean the same call.
    const given = args ?? parameters ?? {};
    const text = typeof given === "string" ? given : JSON.stringify(given);
    return { id: newToolCallId(), name, arguments: text };
}

/** The length of the longest tail of `text` that is a start of `tag`, held back until the next piece decides it. */
function partialTagLength(text: string, tag: string): number {
    for (let n = Math.min(tag.length - 1, text.length); n > 0; n--) {
        if (text.endsWith(tag.slice(0, n))) return n;
    }
    return 0;
}
