import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { GgmlType, GgufValueType, type GgufValue } from "../src/gguf/ggufFormat.js";
import { readGgufHeader, type GgufHeader } from "../src/gguf/readGgufHeader.js";
import { writeGgufFile } from "../src/gguf/writeGgufFile.js";
import { requireTestModel } from "../src/testModel.js";
import { writeBrokenModels } from "../src/writeBrokenModels.js";
import { writeModelWithChatTemplate } from "../src/writeModelWithChatTemplate.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "quandex-test-support-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The layout must point at the bytes the typed view was read from. */
function assertLayoutMatches(bytes: Buffer, header: GgufHeader): void {
    const { layout, tensors } = header;
    assert.equal(layout.kvStart, 24); // magic, version, tensor count, kv count
    assert.equal(layout.dataStart % layout.alignment, 0);
    assert.ok(layout.dataStart >= layout.infoEnd && layout.dataStart - layout.infoEnd < layout.alignment);
    assert.equal(layout.tensorOffsetPositions.length, tensors.length);
    for (const [index, tensor] of tensors.entries()) {
        assert.equal(bytes.readBigUInt64LE(layout.tensorOffsetPositions[index]!), tensor.offset, tensor.name);
    }
    // The first tensor info starts where the key/value section ends: its name's length, then the name.
    if (tensors.length > 0) {
        const nameLength = Number(bytes.readBigUInt64LE(layout.kvEnd));
        assert.equal(bytes.toString("utf8", layout.kvEnd + 8, layout.kvEnd + 8 + nameLength), tensors[0]!.name);
    }
}

describe("readGgufHeader", () => {
    it("reads a path and the same bytes in memory alike, with a layout that points at the fields", () => {
        const modelPath = requireTestModel();
        const bytes = readFileSync(modelPath);
        const fromPath = readGgufHeader(modelPath);
        assert.deepEqual(readGgufHeader(bytes), fromPath);
        assert.ok(fromPath.tensors.length > 5);
        assertLayoutMatches(bytes, fromPath);
    });

    it("finds a written file's sections, with a non-default alignment", async () => {
        const metadata = new Map<string, GgufValue>([
            ["general.alignment", { type: GgufValueType.Uint32, value: 64 }],
            ["a.strings", { type: GgufValueType.Array, itemType: GgufValueType.String, value: ["x", "ü"] }]
        ]);
        const file = path.join(dir, "aligned.gguf");
        await writeGgufFile(file, {
            metadata,
            tensors: [
                { name: "first", dimensions: [3], type: GgmlType.F32, fill: (chunk) => chunk.fill(1.5) },
                { name: "second", dimensions: [2, 2], type: GgmlType.F32, fill: (chunk) => chunk.fill(-2) }
            ]
        });
        const bytes = readFileSync(file);
        const header = readGgufHeader(bytes);
        assert.deepEqual(header.metadata, metadata);
        assert.equal(header.layout.alignment, 64);
        assertLayoutMatches(bytes, header);
        assert.equal(bytes.readFloatLE(header.layout.dataStart), 1.5);
        assert.equal(bytes.readFloatLE(header.layout.dataStart + Number(header.tensors[1]!.offset)), -2);
    });

    it("refuses what is not GGUF and a header cut short", () => {
        assert.throws(() => readGgufHeader(Buffer.from("not a model at all")), /is not a GGUF file/);
        const bytes = readFileSync(requireTestModel());
        assert.throws(() => readGgufHeader(bytes.subarray(0, 100)), /truncated/);
    });
});

describe("model writers built on it", () => {
    it("adds a chat template and keeps every tensor's bytes", () => {
        const source = requireTestModel();
        const before = readFileSync(source);
        const target = writeModelWithChatTemplate(source, dir, "{{ messages }}");
        const after = readFileSync(target);
        const original = readGgufHeader(before);
        const templated = readGgufHeader(after);
        assert.deepEqual(templated.metadata.get("tokenizer.chat_template"), { type: GgufValueType.String, value: "{{ messages }}" });
        assert.equal(templated.metadata.size, original.metadata.size + 1);
        assert.deepEqual(templated.tensors, original.tensors);
        assert.deepEqual(after.subarray(templated.layout.dataStart), before.subarray(original.layout.dataStart));
    });

    it("points the sixth tensor's offset past the end of the file", () => {
        const { badOffsets } = writeBrokenModels(requireTestModel(), dir);
        const header = readGgufHeader(badOffsets);
        assert.equal(header.tensors[5]!.offset, 10n ** 9n);
        assert.notEqual(readGgufHeader(requireTestModel()).tensors[5]!.offset, 10n ** 9n);
    });
});
