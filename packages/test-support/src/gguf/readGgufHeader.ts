import { closeSync, openSync, readSync } from "node:fs";
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufValueType, alignUp, ggufScalarSize, type GgufScalar, type GgufTensorInfo, type GgufValue } from "./ggufFormat.js";

/** What a GGUF header holds, and where each part of it lies in the file. */
export type GgufHeader = {
    version: number;
    /** Metadata in file order, each value with its on-disk type. */
    metadata: Map<string, GgufValue>;
    /** Tensor infos in file order. */
    tensors: GgufTensorInfo[];
    layout: GgufLayout;
};

/**
 * Byte positions in the file, for tests that edit a model byte by byte (add a key, point a tensor
 * past the end): what the typed view alone cannot say.
 */
export type GgufLayout = {
    /** Byte range of the key/value section: from the first key to the first tensor info. */
    kvStart: number;
    kvEnd: number;
    /** End of the tensor-info section. */
    infoEnd: number;
    /** `general.alignment` when it is a uint32 (as the format requires), else the format's 32. */
    alignment: number;
    /** Where tensor data starts: `infoEnd` rounded up to `alignment`. */
    dataStart: number;
    /** Byte position of each tensor's 8-byte data offset field, in the order of `tensors`. */
    tensorOffsetPositions: number[];
};

/**
 * The one reader of GGUF v2/v3 headers in the tests and the benchmark: version, typed metadata,
 * tensor infos and the byte layout, without reading tensor data. (The product checks files with
 * node-llama-cpp's `readGgufFileInfo`, which drops the on-disk types this keeps.)
 *
 * Give it a path and it reads the file in growing chunks, so a multi-gigabyte model costs only its
 * header; give it the bytes of a whole file and it reads them in place, as a test that is about to
 * edit them has them already.
 * @throws when the input is not GGUF v2/v3 or the header is truncated.
 */
export function readGgufHeader(source: string | Uint8Array): GgufHeader {
    if (typeof source !== "string") {
        return parseHeader(new HeaderCursor(null, Buffer.from(source.buffer, source.byteOffset, source.byteLength)), "GGUF buffer");
    }
    const fd = openSync(source, "r");
    try {
        return parseHeader(new HeaderCursor(fd, Buffer.alloc(0)), source);
    } finally {
        closeSync(fd);
    }
}

function parseHeader(reader: HeaderCursor, name: string): GgufHeader {
    const magic = reader.u32();
    if (magic !== GGUF_MAGIC) throw new Error(`${name} is not a GGUF file (magic 0x${magic.toString(16)})`);
    const version = reader.u32();
    if (version !== 2 && version !== 3) throw new Error(`${name}: unsupported GGUF version ${version}`);
    const tensorCount = Number(reader.u64());
    const kvCount = Number(reader.u64());
    const kvStart = reader.offset;
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i++) {
        const key = reader.string();
        const type = reader.u32() as GgufValueType;
        if (type === GgufValueType.Array) {
            const itemType = reader.u32() as Exclude<GgufValueType, GgufValueType.Array>;
            if ((itemType as GgufValueType) === GgufValueType.Array) throw new Error(`${name}: nested arrays (key ${key}) are not supported`);
            const count = Number(reader.u64());
            const value: GgufScalar[] = new Array(count);
            for (let j = 0; j < count; j++) value[j] = reader.scalar(itemType);
            metadata.set(key, { type, itemType, value });
        } else {
            metadata.set(key, { type, value: reader.scalar(type) });
        }
    }
    const kvEnd = reader.offset;
    const tensors: GgufTensorInfo[] = [];
    const tensorOffsetPositions: number[] = [];
    for (let i = 0; i < tensorCount; i++) {
        const tensorName = reader.string();
        const nDims = reader.u32();
        const dimensions: number[] = [];
        for (let d = 0; d < nDims; d++) dimensions.push(Number(reader.u64()));
        const type = reader.u32();
        tensorOffsetPositions.push(reader.offset);
        const offset = reader.u64();
        tensors.push({ name: tensorName, dimensions, type, offset });
    }
    const infoEnd = reader.offset;
    const alignmentValue = metadata.get("general.alignment");
    const alignment = alignmentValue?.type === GgufValueType.Uint32 ? Number(alignmentValue.value) : GGUF_DEFAULT_ALIGNMENT;
    return {
        version,
        metadata,
        tensors,
        layout: { kvStart, kvEnd, infoEnd, alignment, dataStart: alignUp(infoEnd, alignment), tensorOffsetPositions }
    };
}

/**
 * A forward-only reader over a header's bytes that knows its position in the file. With a file
 * descriptor it reads more of the file as it is consumed; without one, `buffer` is the whole input.
 */
class HeaderCursor {
    private position = 0; // within buffer
    private bufferStart = 0; // file offset of buffer[0]

    constructor(
        private readonly fd: number | null,
        private buffer: Buffer
    ) {}

    /** The file offset of the next byte to be read. */
    get offset(): number {
        return this.bufferStart + this.position;
    }

    private ensure(bytes: number): void {
        if (this.position + bytes <= this.buffer.length) return;
        if (this.fd !== null) {
            const keep = this.buffer.subarray(this.position);
            const chunk = Buffer.alloc(Math.max(1 << 20, bytes * 2));
            const read = readSync(this.fd, chunk, 0, chunk.length, this.bufferStart + this.buffer.length);
            this.bufferStart += this.position;
            this.buffer = Buffer.concat([keep, chunk.subarray(0, read)]);
            this.position = 0;
        }
        if (this.position + bytes > this.buffer.length) throw new Error("GGUF header is truncated");
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
        const size = ggufScalarSize(type);
        this.ensure(size);
        const b = this.buffer;
        const p = this.position;
        this.position += size;
        switch (type) {
            case GgufValueType.Uint8:
                return b.readUInt8(p);
            case GgufValueType.Int8:
                return b.readInt8(p);
            case GgufValueType.Uint16:
                return b.readUInt16LE(p);
            case GgufValueType.Int16:
                return b.readInt16LE(p);
            case GgufValueType.Uint32:
                return b.readUInt32LE(p);
            case GgufValueType.Int32:
                return b.readInt32LE(p);
            case GgufValueType.Float32:
                return b.readFloatLE(p);
            case GgufValueType.Bool:
                return b.readUInt8(p) !== 0;
            case GgufValueType.Uint64:
                return b.readBigUInt64LE(p);
            case GgufValueType.Int64:
                return b.readBigInt64LE(p);
            case GgufValueType.Float64:
                return b.readDoubleLE(p);
        }
        throw new Error(`unknown GGUF value type ${type as number}`);
    }
}
