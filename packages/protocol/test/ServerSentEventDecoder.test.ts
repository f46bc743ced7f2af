import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseServerSentEvents, readServerSentEvents, ServerSentEventDecoder, type ServerSentEvent } from "../src/sse/ServerSentEventDecoder.js";

const encoder = new TextEncoder();

function decodeAll(parts: Uint8Array[]): ServerSentEvent[] {
    const decoder = new ServerSentEventDecoder();
    const events = parts.flatMap((part) => decoder.decode(part));
    return [...events, ...decoder.flush()];
}

/** Every way of cutting `bytes` in two, three pieces at a stride, and one byte at a time. */
function splits(bytes: Uint8Array): Uint8Array[][] {
    const result: Uint8Array[][] = [[bytes]];
    for (let i = 0; i <= bytes.length; i++) result.push([bytes.slice(0, i), bytes.slice(i)]);
    for (let i = 1; i < bytes.length; i += 3) {
        for (let j = i; j < bytes.length; j += 5) result.push([bytes.slice(0, i), bytes.slice(i, j), bytes.slice(j)]);
    }
    result.push(Array.from(bytes, (byte) => Uint8Array.of(byte)));
    return result;
}

// Multibyte characters of 2, 3 and 4 bytes, all three line endings, a ping, a named event,
// multi-line data, an event with no data (not dispatched), an id carried over and [DONE].
const body =
    ": ping\n\n" +
    'data: {"text":"caf\u00e9 \u6771\u4eac \ud83d\ude42"}\r\n\r\n' +
    "data: line one\rdata: line two\r\r" +
    'event: error\ndata: {"error":{}}\n\n' +
    "id: 3\nevent: custom\n\n" +
    "data:no-space\ndata:  two spaces\n\n" +
    "id: 7\ndata: seven\n\n" +
    ": ping\r\n\r\n" +
    "data: [DONE]\n\n";

const expected: ServerSentEvent[] = [
    { event: "message", data: '{"text":"caf\u00e9 \u6771\u4eac \ud83d\ude42"}', id: null },
    { event: "message", data: "line one\nline two", id: null },
    { event: "error", data: '{"error":{}}', id: null },
    // eventsource-parser drops the id of an event without data; nothing of ours sends or reads ids.
    { event: "message", data: "no-space\n two spaces", id: null },
    { event: "message", data: "seven", id: "7" },
    { event: "message", data: "[DONE]", id: "7" }
];

describe("ServerSentEventDecoder", () => {
    it("decodes the same events however the bytes are split (inside UTF-8 characters, between CR and LF)", () => {
        const bytes = encoder.encode(body);
        const cases = splits(bytes);
        assert.ok(cases.length > bytes.length, "covers every cut position");
        for (const parts of cases) assert.deepEqual(decodeAll(parts), expected, `split at ${parts.map((p) => p.length).join("+")}`);
    });

    it("treats a CR at the end of one chunk and an LF at the start of the next as one line end", () => {
        const events = decodeAll([encoder.encode("data: a\r"), encoder.encode("\ndata: b\r"), encoder.encode("\n\r\n")]);
        assert.deepEqual(events, [{ event: "message", data: "a\nb", id: null }]);
    });

    it("drops an event cut off before its blank line (a truncated stream)", () => {
        assert.deepEqual(decodeAll([encoder.encode('data: {"partial":')]), []);
        assert.deepEqual(decodeAll([encoder.encode("data: whole\n\ndata: cut\n")]), [{ event: "message", data: "whole", id: null }]);
    });

    it("ignores comments, unknown fields and retry, and strips a leading BOM", () => {
        const events = decodeAll([encoder.encode("\ufeff: hello\nretry: 100\nfoo: bar\ndata\n\n")]);
        assert.deepEqual(events, [{ event: "message", data: "", id: null }]);
    });

    it("keeps a split 4-byte character intact when the chunk holds nothing else", () => {
        const bytes = encoder.encode("data: \ud83d\ude42\n\n");
        const events = decodeAll([bytes.slice(0, 7), bytes.slice(7, 8), bytes.slice(8, 9), bytes.slice(9)]);
        assert.deepEqual(events, [{ event: "message", data: "\ud83d\ude42", id: null }]);
    });

    it("reads a body stream and a whole text alike", async () => {
        async function* chunks(): AsyncGenerator<Uint8Array> {
            for (const part of splits(encoder.encode(body))[7]!) yield part;
        }
        const read: ServerSentEvent[] = [];
        for await (const event of readServerSentEvents(chunks())) read.push(event);
        assert.deepEqual(read, expected);
        assert.deepEqual(parseServerSentEvents(body), expected);
    });
});
