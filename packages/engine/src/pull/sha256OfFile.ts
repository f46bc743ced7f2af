import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** The SHA-256 of a file, hex, read as a stream (models are gigabytes). */
export async function sha256OfFile(filePath: string, signal?: AbortSignal): Promise<string> {
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(filePath, { highWaterMark: 1 << 20, signal })) hash.update(chunk as Buffer);
    return hash.digest("hex");
}
