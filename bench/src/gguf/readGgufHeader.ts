import { closeSync, openSync, readSync } from "node:fs";
import { GGUF_MAGIC, GgufValueType, type GgufScalar, type GgufTensorInfo, type GgufValue } from "./ggufFormat.js";

export type GgufHeader = {
    version: number;
    /** Metadata in file order, each value with its on-disk type. */
    metadata: Map<string, GgufValue>;
    tensors: GgufTensorInfo[];
};

/**
 * Reads the header of a GGUF file (version, typed metadata, tensor infos) without reading tensor data.
 * It reads the file in growing chunks, so a multi-gigabyte model costs only its header.
 * @throws when the file is not GGUF v2/v3 or is truncated.
 */
export function readGgufHeader(path: string): GgufHeader {
    const fd = openSync(path, "r");
    try {
        const reader = new FileCursor(fd);
        const magic = reader.u32();
        if (magic !== GGUF_MAGIC) throw new Error(`${path} is not a GGUF file (magic 0x${magic.toString(16)})`);
        const version = reader.u32();
        if (version !== 2 && version !== 3) throw new Error(`${path}: unsupported GGUF version ${version}`);
        const tensorCount = Number(reader.u64());
        const kvCount = Number(reader.u64());
        const metadata = new Map<string, GgufValue>();
        for (let i = 0; i < kvCount; i++) {
            const key = reader.string();
            const type = reader.u32() as GgufValueType;
            if (type === GgufValueType.Array) {
                const itemType = reader.u32() as Exclude<GgufValueType, GgufValueType.Array>;
                if ((itemType as GgufValueType) === GgufValueType.Array) throw new Error(`${path}: nested arrays (key ${key}) are not supported`);
                const count = Number(reader.u64());
                const value: GgufScalar[] = new Array(count);
                for (let j = 0; j < count; j++) value[j] = reader.scalar(itemType);
                metadata.set(key, { type, itemType, value });
            } else {
                metadata.set(key, { type, value: reader.scalar(type) });
            }
        }
        const tensors: GgufTensorInfo[] = [];
        for (let i = 0; i < tensorCount; i++) {
            const name = reader.string();
            const nDims = reader.u32();
            const dimensions: number[] = [];
            for (let d = 0; d < nDims; d++) dimensions.push(Number(reader.u64()));
            const type = reader.u32();
            const offset = reader.u64();
            tensors.push({ name, dimensions, type, offset });
        }
        return { version, metadata, tensors };
    } finally {
        closeSync(fd);
    }
}

/** A forward-only reader over a file descriptor that reads more of the file as it is consumed. */
class FileCursor {
    private buffer = Buffer.alloc(0);
    private position = 0; // within buffer
    private fileOffset = 0; // file offset of buffer[0]

    constructor(private readonly fd: number) {}

    private ensure(bytes: number): void {
        if (this.position + bytes <= this.buffer.length) return;
        const keep = this.buffer.subarray(this.position);
        const chunk = Buffer.alloc(Math.max(1 << 20, bytes * 2));
        const read = readSync(this.fd, chunk, 0, chunk.length, this.fileOffset + this.buffer.length);
        this.fileOffset += this.position;
        this.buffer = Buffer.concat([keep, chunk.subarray(0, read)]);
        this.position = 0;
        if (bytes > this.buffer.length) throw new Error("GGUF header is truncated");
    }

    u32(): number {
        this.ensure(4);
        const value = this.buffer.readUInt32LE(this.position);
        this.position += 4;
        return value;
    }

    u64(): bigint {
        this.ensure(8);
        const value = this.buffer.readBigUInt64LE(this.position);
        this.position += 8;
        return value;
    }

    string(): string {
        const length = Number(this.u64());
        this.ensure(length);
        const value = this.buffer.toString("utf8", this.position, this.position + length);
        this.position += length;
        return value;
    }

    scalar(type: Exclude<GgufValueType, GgufValueType.Array>): GgufScalar {
        if (type === GgufValueType.String) return this.string();
        const size = scalarSize(type);
        this.ensure(size);
        const b = this.buffer;
        const p = this.position;
        this.position += size;
        switch (type) {
            case GgufValueType.Uint8: return b.readUInt8(p);
            case GgufValueType.Int8: return b.readInt8(p);
            case GgufValueType.Uint16: return b.readUInt16LE(p);
            case GgufValueType.Int16: return b.readInt16LE(p);
            case GgufValueType.Uint32: return b.readUInt32LE(p);
            case GgufValueType.Int32: return b.readInt32LE(p);
            case GgufValueType.Float32: return b.readFloatLE(p);
            case GgufValueType.Bool: return b.readUInt8(p) !== 0;
            case GgufValueType.Uint64: return b.readBigUInt64LE(p);
            case GgufValueType.Int64: return b.readBigInt64LE(p);
            case GgufValueType.Float64: return b.readDoubleLE(p);
        }
        throw new Error(`unknown GGUF value type ${type as number}`);
    }
}

/** Size in bytes of a non-string scalar of the given type. */
export function scalarSize(type: Exclude<GgufValueType, GgufValueType.Array | GgufValueType.String>): number {
    switch (type) {
        case GgufValueType.Uint8:
        case GgufValueType.Int8:
        case GgufValueType.Bool:
            return 1;
        case GgufValueType.Uint16:
        case GgufValueType.Int16:
            return 2;
        case GgufValueType.Uint32:
        case GgufValueType.Int32:
        case GgufValueType.Float32:
            return 4;
        default:
            return 8;
    }
}
