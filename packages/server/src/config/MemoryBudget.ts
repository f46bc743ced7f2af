/**
 * `server.memory_budget` as configured: bytes, a share of the device's memory, or `auto` (90% of
 * it). A share is taken of free VRAM when the engine offloads to a GPU, else of available RAM,
 * read once at boot (`resolveMemoryBudget`).
 */
export type MemoryBudget = { kind: "bytes"; bytes: number } | { kind: "share"; ratio: number };

const units: Record<string, number> = {
    b: 1,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
    tb: 1e12,
    kib: 2 ** 10,
    mib: 2 ** 20,
    gib: 2 ** 30,
    tib: 2 ** 40,
    k: 2 ** 10,
    m: 2 ** 20,
    g: 2 ** 30,
    t: 2 ** 40
};

/**
 * `"12GB"`, `"12GiB"`, `"512MB"`, `"80%"`, `"auto"`, or a number of bytes.
 * @throws Error saying what is accepted.
 */
export function parseMemoryBudget(value: string | number): MemoryBudget {
    if (typeof value === "number") {
        if (!Number.isInteger(value) || value < 1) throw new Error(`${value} is not a number of bytes`);
        return { kind: "bytes", bytes: value };
    }
    const text = value.trim().toLowerCase();
    if (text === "auto") return { kind: "share", ratio: 0.9 };
    const share = /^(\d+(?:\.\d+)?)\s*%$/.exec(text);
    if (share) {
        const ratio = Number(share[1]) / 100;
        if (ratio <= 0 || ratio > 1) throw new Error(`'${value}' must be a share between 0% and 100%`);
        return { kind: "share", ratio };
    }
    const size = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(text);
    const factor = size ? units[size[2] === "" ? "b" : size[2]!] : undefined;
    if (!size || factor === undefined) throw new Error(`'${value}' is not a size such as "12GB", "8GiB", a share such as "80%", or "auto"`);
    const bytes = Math.floor(Number(size[1]) * factor);
    if (bytes < 1) throw new Error(`'${value}' is less than one byte`);
    return { kind: "bytes", bytes };
}

/** The budget in bytes, given the memory the device has for models now (available RAM, or free VRAM on a GPU). */
export function resolveMemoryBudget(budget: MemoryBudget, availableBytes: number): number {
    return budget.kind === "bytes" ? budget.bytes : Math.floor(availableBytes * budget.ratio);
}
