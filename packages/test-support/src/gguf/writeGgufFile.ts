import { open } from "node:fs/promises";
import { float32ToFloat16 } from "./float16.js";
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgmlType, GgufValueType, alignUp, ggmlTypeSize, ggufScalarSize, type GgufScalar, type GgufValue } from "./ggufFormat.js";

export type GgufTensorSource = {
    name: string;
    /** ne0 first, as ggml orders them: a [rows, cols] matrix is written `[cols, rows]`. */
    dimensions: number[];
    type: GgmlType.F32 | GgmlType.F16;
    /**
     * Fills `chunk` with the tensor's next `chunk.length` values as float32; the writer converts
     * them to the tensor's type. Called in order until the tensor is complete.
     */
    fill(chunk: Float32Array): void;
};

export type WriteGgufFileOptions = {
    /** Written in insertion order. `general.alignment`, if present, must be a uint32. */
    metadata: Map<string, GgufValue>;
    tensors: GgufTensorSource[];
    /** Values generated and written per step; bounds memory use. Defaults to 1 << 20. */
    chunkElements?: number;
};

/**
 * Writes a GGUF v3 file: header, metadata, tensor infos, then each tensor's data at an aligned offset.
 * The data is produced chunk by chunk and streamed to disk, so memory use stays at one chunk however
 * large the model is.
 */
export async function writeGgufFile(path: string, { metadata, tensors, chunkElements = 1 << 20 }: WriteGgufFileOptions): Promise<{ bytes: number }> {
    const alignmentValue = metadata.get("general.alignment");
    const alignment = alignmentValue == null ? GGUF_DEFAULT_ALIGNMENT : Number(alignmentValue.value);

    const header = new ByteWriter();
    header.u32(GGUF_MAGIC);
    header.u32(GGUF_VERSION);
    header.u64(BigInt(tensors.length));
    header.u64(BigInt(metadata.size));
    for (const [key, value] of metadata) {
        header.string(key);
        header.u32(value.type);
        if (value.type === GgufValueType.Array) {
            header.u32(value.itemType);
            header.u64(BigInt(value.value.length));
            for (const item of value.value) header.scalar(value.itemType, item);
        } else {
            header.scalar(value.type, value.value);
        }
    }
    let dataOffset = 0;
    const offsets: number[] = [];
    for (const tensor of tensors) {
        header.string(tensor.name);
        header.u32(tensor.dimensions.length);
        for (const dimension of tensor.dimensions) header.u64(BigInt(dimension));
        header.u32(tensor.type);
        header.u64(BigInt(dataOffset));
        offsets.push(dataOffset);
        dataOffset = alignUp(dataOffset + elementCount(tensor) * ggmlTypeSize(tensor.type), alignment);
    }
    const headerBytes = header.toBuffer();
    const dataStart = alignUp(headerBytes.length, alignment);

    const file = await open(path, "w");
    try {
        await file.write(headerBytes, 0, headerBytes.length, 0);
        const floats = new Float32Array(chunkElements);
        const halves = new Uint16Array(chunkElements);
        for (const [index, tensor] of tensors.entries()) {
            let position = dataStart + offsets[index]!;
            let remaining = elementCount(tensor);
            while (remaining > 0) {
                const count = Math.min(remaining, chunkElements);
                const chunk = floats.subarray(0, count);
                tensor.fill(chunk);
                let bytes: Uint8Array;
                if (tensor.type === GgmlType.F16) {
                    const half = halves.subarray(0, count);
                    float32ToFloat16(chunk, half);
                    bytes = new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
                } else {
                    bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
                }
                await file.write(bytes, 0, bytes.length, position);
                position += bytes.length;
                remaining -= count;
            }
        }
        // Pad the file to the aligned end of the last tensor, as llama.cpp's writer does.
        const end = dataStart + dataOffset;
        await file.truncate(end);
        return { bytes: end };
    } finally {
        await file.close();
    }
}

function elementCount(tensor: GgufTensorSource): number {
    return tensor.dimensions.reduce((product, dimension) => product * dimension, 1);
}

/** Appends little-endian values to a growing buffer. */
class ByteWriter {
    private buffer = Buffer.alloc(1 << 16);
    private length = 0;

    private reserve(bytes: number): void {
        if (this.length + bytes <= this.buffer.length) return;
        const grown = Buffer.alloc(Math.max(this.buffer.length * 2, this.length + bytes));
        this.buffer.copy(grown, 0, 0, this.length);
        this.buffer = grown;
    }

    u32(value: number): void {
        this.reserve(4);
        this.buffer.writeUInt32LE(value, this.length);
        this.length += 4;
    }

    u64(value: bigint): void {
        this.reserve(8);
        this.buffer.writeBigUInt64LE(value, this.length);
        this.length += 8;
    }

    string(value: string): void {
        const bytes = Buffer.from(value, "utf8");
        this.u64(BigInt(bytes.length));
        this.reserve(bytes.length);
        bytes.copy(this.buffer, this.length);
        this.length += bytes.length;
    }

    scalar(type: Exclude<GgufValueType, GgufValueType.Array>, value: GgufScalar): void {
        if (type === GgufValueType.String) return this.string(String(value));
        const size = ggufScalarSize(type);
        this.reserve(size);
        const b = this.buffer;
        const p = this.length;
        switch (type) {
            case GgufValueType.Uint8:
                b.writeUInt8(Number(value), p);
                break;
            case GgufValueType.Int8:
                b.writeInt8(Number(value), p);
                break;
            case GgufValueType.Uint16:
                b.writeUInt16LE(Number(value), p);
                break;
            case GgufValueType.Int16:
                b.writeInt16LE(Number(value), p);
                break;
            case GgufValueType.Uint32:
                b.writeUInt32LE(Number(value), p);
                break;
            case GgufValueType.Int32:
                b.writeInt32LE(Number(value), p);
                break;
            case GgufValueType.Float32:
                b.writeFloatLE(Number(value), p);
                break;
            case GgufValueType.Bool:
                b.writeUInt8(value ? 1 : 0, p);
                break;
            case GgufValueType.Uint64:
                b.writeBigUInt64LE(BigInt(value), p);
                break;
            case GgufValueType.Int64:
                b.writeBigInt64LE(BigInt(value), p);
                break;
            case GgufValueType.Float64:
                b.writeDoubleLE(Number(value), p);
                break;
        }
        this.length += size;
    }

    toBuffer(): Buffer {
        return this.buffer.subarray(0, this.length);
    }
}
