import { readFile } from "node:fs/promises";
import os from "node:os";

/** System memory from /proc/meminfo's MemAvailable (what the kernel can hand out), else Node's freemem. */
export async function readMemory(): Promise<{ totalBytes: number; availableBytes: number }> {
    const totalBytes = os.totalmem();
    try {
        const meminfo = await readFile("/proc/meminfo", "utf8");
        const match = /^MemAvailable:\s+(\d+) kB$/m.exec(meminfo);
        if (match?.[1]) return { totalBytes, availableBytes: Number(match[1]) * 1024 };
    } catch {
        // Not Linux; fall through.
    }
    return { totalBytes, availableBytes: os.freemem() };
}
