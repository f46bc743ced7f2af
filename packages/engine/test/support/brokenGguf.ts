import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * Writes the three kinds of damage a model file can have, derived from a good GGUF:
 * random bytes (corrupt), the first half only (truncated), and one tensor's offset pointed far
 * past the end of the file (bad tensor offsets). Returns the paths by kind.
 */
export function writeBrokenModels(goodPath: string, dir: string): { corrupt: string; truncated: string; badOffsets: string } {
    const good = readFileSync(goodPath);
    const corrupt = path.join(dir, "corrupt.gguf");
    const truncated = path.join(dir, "truncated.gguf");
    const badOffsets = path.join(dir, "bad-offsets.gguf");
    writeFileSync(corrupt, randomBytes(64 * 1024));
    writeFileSync(truncated, good.subarray(0, Math.floor(good.length / 2)));
    const damaged = Buffer.from(good);
    damaged.writeBigUInt64LE(10n ** 9n, tensorOffsetPosition(damaged, 5));
    writeFileSync(badOffsets, damaged);
    return { corrupt, truncated, badOffsets };
}

/** Byte position of the offset field of tensor `index` in a GGUF v3 header. */
function tensorOffsetPosition(buf: Buffer, index: number): number {
    let p = 8;
    const tensorCount = Number(buf.readBigUInt64LE(p));
    const kvCount = Number(buf.readBigUInt64LE(p + 8));
    p += 16;
    const skipString = (): void => {
        p += 8 + Number(buf.readBigUInt64LE(p));
    };
    const scalarSize: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
    const skipValue = (type: number): void => {
        if (type === 8) return skipString();
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
        skipString();
        const type = buf.readUInt32LE(p);
        p += 4;
        skipValue(type);
    }
    for (let i = 0; i < tensorCount; i++) {
        skipString();
        const dims = buf.readUInt32LE(p);
        p += 4 + 8 * dims + 4;
        if (i === index) return p;
        p += 8;
    }
    throw new Error(`tensor ${index} not found`);
}
