import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { requestBody, snippets, type PlaygroundSettings } from "../src/pages/snippets.js";

const chat: PlaygroundSettings = {
    mode: "chat",
    model: "stories260K",
    system: "You tell 'short' stories.",
    prompt: 'Say "hi"',
    temperature: 0.7,
    maxTokens: 64,
    schema: '{"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": false}'
};
const origin = "http://127.0.0.1:8000";

/** The body inside curl's `-d '…'`, with the shell's `'\''` quoting undone. */
function curlBody(code: string): unknown {
    const match = /-d '([\s\S]*)'$/.exec(code);
    assert.ok(match, code);
    return JSON.parse(match[1]!.replace(/'\\''/g, "'"));
}

function pythonParses(code: string): void {
    execFileSync("python3", ["-c", "import ast, sys; ast.parse(sys.stdin.read())"], { input: code });
}

describe("the playground's snippets", () => {
    it("send what the playground sends: system prompt, JSON schema, temperature, max tokens", () => {
        const [curl] = snippets(chat, origin);
        assert.deepEqual(curlBody(curl!.code), requestBody(chat, []));
        const body = requestBody(chat, []) as { messages: unknown[]; response_format: { type: string; json_schema: { schema: unknown } } };
        assert.deepEqual(body.messages, [
            { role: "system", content: chat.system },
            { role: "user", content: chat.prompt }
        ]);
        assert.equal(body.response_format.type, "json_schema");
        assert.deepEqual(body.response_format.json_schema.schema, JSON.parse(chat.schema));
        assert.match(curl!.code, /^curl -N http:\/\/127\.0\.0\.1:8000\/v1\/chat\/completions/);
    });

    it("write Python that parses, with the schema's booleans as True and False", () => {
        for (const settings of [chat, { ...chat, mode: "generate" as const }]) {
            const python = snippets(settings, origin).find((s) => s.label.startsWith("Python"))!;
            pythonParses(python.code);
            if (settings.mode === "chat") assert.match(python.code, /"additionalProperties": False/);
        }
    });

    it("use the Quandex SDKs for /v1/generate and leave out what JAN has no field for", () => {
        const generate = { ...chat, mode: "generate" as const };
        const [curl, python, ts] = snippets(generate, origin);
        assert.deepEqual(curlBody(curl!.code), { model: "stories260K", prompt: chat.prompt, temperature: 0.7, max_tokens: 64, stream: true });
        assert.match(python!.code, /client\.stream_generate\(/);
        assert.match(ts!.code, /client\.streamGenerate\(/);
        assert.doesNotMatch(ts!.code, /response_format|system/);
    });

    it("carry the conversation so far into the next chat request, after the system prompt", () => {
        const body = requestBody(chat, [
            { role: "user", content: "one" },
            { role: "assistant", content: "two" }
        ]) as { messages: Array<{ role: string }> };
        assert.deepEqual(
            body.messages.map((m) => m.role),
            ["system", "user", "assistant", "user"]
        );
    });
});
