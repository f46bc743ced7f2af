import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { planToolConversation, ToolCallExtractor, type ExtractedPiece } from "@quandex/engine";

const run = (mode: "free" | "forced", pieces: string[]): ExtractedPiece[] => {
    const extractor = new ToolCallExtractor(mode);
    return [...pieces.flatMap((piece) => extractor.push(piece)), ...extractor.end()];
};
const text = (pieces: ExtractedPiece[]): string => pieces.map((p) => (p.type === "text" ? p.text : "")).join("");
const calls = (pieces: ExtractedPiece[]) => pieces.flatMap((p) => (p.type === "tool_call" ? [{ name: p.call.name, arguments: JSON.parse(p.call.arguments) as unknown }] : []));

describe("ToolCallExtractor", () => {
    const reply = 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>';

    it("takes a tagged call out of free text, however the stream splits it", () => {
        fc.assert(
            fc.property(fc.array(fc.nat({ max: reply.length }), { maxLength: 8 }), (cuts) => {
                const points = [...new Set([0, ...cuts, reply.length])].sort((a, b) => a - b);
                const pieces = points.slice(1).map((end, i) => reply.slice(points[i], end));
                const out = run("free", pieces);
                assert.equal(text(out), "Let me check.\n");
                assert.deepEqual(calls(out), [{ name: "get_weather", arguments: { city: "Oslo" } }]);
            })
        );
    });

    it("streams plain text through, holding back only a tail that could open a tag", () => {
        const extractor = new ToolCallExtractor("free");
        assert.deepEqual(extractor.push("Once upon a <tool"), [{ type: "text", text: "Once upon a " }]);
        assert.deepEqual(extractor.push("box> was red"), [{ type: "text", text: "<toolbox> was red" }]);
        assert.deepEqual(extractor.end(), []);
    });

    it("gives back a tag whose body is not a call as the text it was", () => {
        const out = run("free", ["<tool_call>not json</tool_call> and more"]);
        assert.equal(text(out), "<tool_call>not json and more");
        assert.deepEqual(calls(out), []);
    });

    it("counts a call cut off by the end of the turn when its JSON is whole, and several calls in order", () => {
        const out = run("free", ['<tool_call>{"name":"a","arguments":{}}</tool_call><tool_call>{"name":"b","parameters":{"x":1}}']);
        assert.deepEqual(calls(out), [
            { name: "a", arguments: {} },
            { name: "b", arguments: { x: 1 } }
        ]);
    });

    it("in forced mode turns the whole reply into one call, and leaves unparsable text as text", () => {
        assert.deepEqual(calls(run("forced", ['{"name": "f", ', '"arguments": {"q": "x"}}'])), [{ name: "f", arguments: { q: "x" } }]);
        assert.equal(text(run("forced", ['{"name": "f", "argu'])), '{"name": "f", "argu');
    });

    it("mints distinct OpenAI-shaped call ids", () => {
        const out = run("free", ['<tool_call>{"name":"a","arguments":{}}</tool_call><tool_call>{"name":"a","arguments":{}}</tool_call>']);
        const ids = out.flatMap((p) => (p.type === "tool_call" ? [p.call.id] : []));
        assert.equal(new Set(ids).size, 2);
        for (const id of ids) assert.match(id, /^call_[0-9a-f]{24}$/);
    });
});

describe("planToolConversation", () => {
    const tools = [
        { name: "get_weather", description: "Weather now", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
        { name: "odd", parameters: { type: "integer", minimum: 1 } }
    ];

    it("adds the tools to the system turn and renders calls and answers as the template's turns", () => {
        const plan = planToolConversation(
            [
                { role: "system", content: "Be brief." },
                { role: "user", content: "Weather in Oslo?" },
                { role: "assistant", content: "", toolCalls: [{ id: "call_1", name: "get_weather", arguments: '{"city":"Oslo"}' }] },
                { role: "tool", content: "12 C", toolCallId: "call_1" }
            ],
            tools,
            "auto"
        );
        assert.equal(plan.mode, "free");
        assert.equal(plan.constraint, undefined);
        assert.match(plan.messages[0]!.content, /^Be brief\.\n\nYou can call these tools/);
        assert.match(plan.messages[0]!.content, /"name":"get_weather"/);
        assert.deepEqual(plan.messages.slice(2), [
            { role: "assistant", content: '<tool_call>\n{"name":"get_weather","arguments":{"city":"Oslo"}}\n</tool_call>' },
            { role: "user", content: "<tool_response>\n12 C\n</tool_response>" }
        ]);
    });

    it("forces a named call with a grammar over its schema, and falls back to any object for a schema outside the grammar's subset", () => {
        const named = planToolConversation([{ role: "user", content: "hi" }], tools, { name: "get_weather" });
        assert.equal(named.mode, "forced");
        assert.deepEqual(named.constraint, {
            type: "json_schema",
            schema: {
                type: "object",
                properties: { name: { const: "get_weather" }, arguments: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
                required: ["name", "arguments"]
            }
        });
        const required = planToolConversation([{ role: "user", content: "hi" }], tools, "required");
        const branches = (required.constraint as unknown as { schema: { oneOf: Array<{ properties: { arguments: unknown } }> } }).schema.oneOf;
        assert.equal(branches.length, 2);
        assert.deepEqual(branches[1]!.properties.arguments, { type: "object", additionalProperties: true });
    });

    it("hides the tools for none, and refuses a choice that names no offered tool", () => {
        assert.deepEqual(planToolConversation([{ role: "user", content: "hi" }], tools, "none"), { messages: [{ role: "user", content: "hi" }], mode: null });
        assert.throws(() => planToolConversation([{ role: "user", content: "hi" }], tools, { name: "nope" }), /no tool named 'nope'/);
        assert.throws(() => planToolConversation([{ role: "user", content: "hi" }], [], "required"), /no tools were sent/);
    });
});
