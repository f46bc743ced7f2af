/** Where things are in a GGUF v2/v3 header, for tests that edit model files byte by byte. */
export interface GgufLayout {
    tensorCount: number;
    kvCount: number;
    /** Byte range of the key/value section. */
    kvStart: number;
    kvEnd: number;
    /** End of the tensor-info section; tensor data starts at the next `alignment` boundary. */
    infoEnd: number;
    alignment: number;
    keys: string[];
    /** Byte position of each tensor's 8-byte data offset field. */
    tensorOffsetPositions: number[];
}

const scalarSize: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

export function ggufLayout(buf: Buffer): GgufLayout {
    if (buf.toString("latin1", 0, 4) !== "GGUF") throw new Error("not a GGUF file");
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
    const keys: string[] = [];
    for (let i = 0; i < kvCount; i++) {
        const key = readString();
        keys.push(key);
        const type = buf.readUInt32LE(p);
        p += 4;
        if (key === "general.alignment" && type === 4) alignment = buf.readUInt32LE(p);
        skipValue(type);
    }
    const kvEnd = p;
    const tensorOffsetPositions: number[] = [];
    for (let i = 0; i < tensorCount; i++) {
        readString();
        const dims = buf.readUInt32LE(p);
        p += 4 + 8 * dims + 4;
        tensorOffsetPositions.push(p);
        p += 8;
    }
    return { tensorCount, kvCount, kvStart, kvEnd, infoEnd: p, alignment, keys, tensorOffsetPositions };
}

export function alignUp(value: number, alignment: number): number {
    return Math.ceil(value / alignment) * alignment;
}
