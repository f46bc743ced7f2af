import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { readGgufHeader } from "./gguf/readGgufHeader.js";

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
    damaged.writeBigUInt64LE(10n ** 9n, readGgufHeader(damaged).layout.tensorOffsetPositions[5]!);
    writeFileSync(badOffsets, damaged);
    return { corrupt, truncated, badOffsets };
}
