import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * Writes a copy of a GGUF model with `tokenizer.chat_template` set, so tests can run the real
 * engine's chat-template path on the tiny test model (which has no template of its own). The
 * header grows by one key/value pair; tensor data is copied unchanged after re-padding to the
 * file's alignment, so tensor offsets (relative to the data section) stay valid.
 */
export function writeModelWithChatTemplate(sourcePath: string, dir: string, template: string, name = "templated.gguf"): string {
    const buf = readFileSync(sourcePath);
    if (buf.toString("latin1", 0, 4) !== "GGUF") throw new Error(`${sourcePath} is not a GGUF file`);
    let p = 8;
    const tensorCount = Number(buf.readBigUInt64LE(p));
    const kvCount = Number(buf.readBigUInt64LE(p + 8));
    p += 16;
    const kvStart = p;
    let alignment = 32;
    const readString = (): string => {
        const length = Number(buf.readBigUInt64LE(p));
        const text = buf.toString("utf8", p + 8, p + 8 + length);
        p += 8 + length;
        return text;
    };
    const scalarSize: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
    const skipValue = (type: number): void => {
        if (type === 8) {
            readString();
            return;
        }
        if (type === 9) {
            const itemType = buf.readUInt32LE(p);
            const count = Number(buf.readBigUInt64LE(p + 4));
            p += 12;
            for (let i = 0; i < count; i++) skipValue(itemType);
            return;
        }
        const size = scalarSize[type];
        if (size === undefined) throw new Error(`unknown GGUF value type ${type}`);
        p += size;
    };
    for (let i = 0; i < kvCount; i++) {
        const key = readString();
        const type = buf.readUInt32LE(p);
        p += 4;
        if (key === "tokenizer.chat_template") throw new Error(`${sourcePath} already has a chat template`);
        if (key === "general.alignment" && type === 4) alignment = buf.readUInt32LE(p);
        skipValue(type);
    }
    const kvEnd = p;
    for (let i = 0; i < tensorCount; i++) {
        readString();
        const dims = buf.readUInt32LE(p);
        p += 4 + 8 * dims + 4 + 8;
    }
    const infoEnd = p;
    const dataStart = alignUp(infoEnd, alignment);

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
    head.writeBigUInt64LE(BigInt(kvCount + 1), 16);
    const headerLength = head.length + (kvEnd - kvStart) + kv.length + (infoEnd - kvEnd);
    const padding = Buffer.alloc(alignUp(headerLength, alignment) - headerLength);
    const out = Buffer.concat([head, buf.subarray(kvStart, kvEnd), kv, buf.subarray(kvEnd, infoEnd), padding, buf.subarray(dataStart)]);
    const target = path.join(dir, name);
    writeFileSync(target, out);
    return target;
}

function alignUp(value: number, alignment: number): number {
    return Math.ceil(value / alignment) * alignment;
}
