/**
 * The parts of the GGUF v3 format that the tests and the benchmark read and write
 * (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md).
 * All integers are little-endian; strings are a uint64 byte length followed by UTF-8 bytes.
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Metadata value types, as numbered in the file. */
export enum GgufValueType {
    Uint8 = 0,
    Int8 = 1,
    Uint16 = 2,
    Int16 = 3,
    Uint32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    Uint64 = 10,
    Int64 = 11,
    Float64 = 12
}

/** The ggml tensor types the generator writes. */
export enum GgmlType {
    F32 = 0,
    F16 = 1
}

export type GgufScalar = number | bigint | boolean | string;

/**
 * One metadata value with its on-disk type kept, so a value read from one file can be written to
 * another unchanged (node-llama-cpp's `readGgufFileInfo` returns plain JS values and loses the types).
 */
export type GgufValue =
    | { type: Exclude<GgufValueType, GgufValueType.Array>; value: GgufScalar }
    | { type: GgufValueType.Array; itemType: Exclude<GgufValueType, GgufValueType.Array>; value: GgufScalar[] };

export type GgufTensorInfo = {
    name: string;
    /** ne0 first (the fastest-varying dimension), as in the file. */
    dimensions: number[];
    type: GgmlType | number;
    /** Offset from the start of the tensor data section. */
    offset: bigint;
};

/** Bytes per element of the types the generator writes. */
export function ggmlTypeSize(type: GgmlType): number {
    return type === GgmlType.F32 ? 4 : 2;
}

/** Size in bytes of a non-string scalar of the given type. */
export function ggufScalarSize(type: Exclude<GgufValueType, GgufValueType.Array | GgufValueType.String>): number {
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

export function alignUp(value: number, alignment: number): number {
    return Math.ceil(value / alignment) * alignment;
}
