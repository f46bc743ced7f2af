/**
 * Converts float32 values to IEEE 754 binary16 bit patterns, rounding to nearest even, with subnormals,
 * infinities and NaN handled. It works on the raw float32 bits through a Uint32Array view, so it costs a
 * few integer operations per value and allocates nothing.
 * @param source - values to convert
 * @param target - receives the half-precision bits; at least `source.length` long
 */
export function float32ToFloat16(source: Float32Array, target: Uint16Array): void {
    const bits = new Uint32Array(source.buffer, source.byteOffset, source.length);
    for (let i = 0; i < bits.length; i++) target[i] = float32BitsToFloat16(bits[i]!);
}

export function float32BitsToFloat16(x: number): number {
    const sign = (x >>> 16) & 0x8000;
    const exponent = (x >>> 23) & 0xff;
    let mantissa = x & 0x7fffff;
    if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0); // Inf or NaN
    const halfExponent = exponent - 127 + 15;
    if (halfExponent >= 0x1f) return sign | 0x7c00; // overflow: Inf
    if (halfExponent <= 0) {
        // Subnormal half (or zero): shift the mantissa, with its implicit leading 1, into place.
        if (halfExponent < -10) return sign;
        mantissa |= 0x800000;
        const shift = 14 - halfExponent;
        let half = mantissa >>> shift;
        const remainder = mantissa & ((1 << shift) - 1);
        const halfway = 1 << (shift - 1);
        if (remainder > halfway || (remainder === halfway && (half & 1) !== 0)) half++;
        return sign | half;
    }
    let half = (halfExponent << 10) | (mantissa >>> 13);
    const remainder = mantissa & 0x1fff;
    if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) !== 0)) half++; // a carry into the exponent is correct
    return sign | half;
}

/** Decodes binary16 bits to a number; used by tests to check the encoder. */
export function float16BitsToNumber(h: number): number {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >>> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) return sign * mantissa * 2 ** -24;
    if (exponent === 0x1f) return mantissa !== 0 ? NaN : sign * Infinity;
    return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
