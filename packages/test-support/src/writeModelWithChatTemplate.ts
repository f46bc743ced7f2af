import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { alignUp } from "./gguf/ggufFormat.js";
import { readGgufHeader } from "./gguf/readGgufHeader.js";

/**
 * Writes a copy of a GGUF model with `tokenizer.chat_template` set, so tests can run the real
 * engine's chat-template path on the tiny test model (which has no template of its own). The
 * header grows by one key/value pair; tensor data is copied unchanged after re-padding to the
 * file's alignment, so tensor offsets (relative to the data section) stay valid.
 */
export function writeModelWithChatTemplate(sourcePath: string, dir: string, template: string, name = "templated.gguf"): string {
    const buf = readFileSync(sourcePath);
    const { metadata, layout } = readGgufHeader(buf);
    const { kvStart, kvEnd, infoEnd, alignment, dataStart } = layout;
    if (metadata.has("tokenizer.chat_template")) throw new Error(`${sourcePath} already has a chat template`);

    const key = Buffer.from("tokenizer.chat_template", "utf8");
    const value = Buffer.from(template, "utf8");
    const kv = Buffer.alloc(8 + key.length + 4 + 8 + value.length);
    let q = 0;
    q = kv.writeBigUInt64LE(BigInt(key.length), q);
    q += key.copy(kv, q);
    q = kv.writeUInt32LE(8, q);
    q = kv.writeBigUInt64LE(BigInt(value.length), q);
    value.copy(kv, q);

    const head = Buffer.from(buf.subarray(0, kvStart));
    // The key/value count: a uint64 after the magic, the version and the tensor count.
    head.writeBigUInt64LE(BigInt(metadata.size + 1), 16);
    const headerLength = head.length + (kvEnd - kvStart) + kv.length + (infoEnd - kvEnd);
    const padding = Buffer.alloc(alignUp(headerLength, alignment) - headerLength);
    const out = Buffer.concat([head, buf.subarray(kvStart, kvEnd), kv, buf.subarray(kvEnd, infoEnd), padding, buf.subarray(dataStart)]);
    const target = path.join(dir, name);
    writeFileSync(target, out);
    return target;
}
