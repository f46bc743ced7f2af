const units = ["B", "KB", "MB", "GB", "TB"] as const;

/** Human byte counts in powers of 1024, as "1.2GB" in the reference; "0B" for zero. */
export function formatBytes(bytes: number): string {
    if (!Number.isFinite(bytes) || bytes <= 0) return "0B";
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit++;
    }
    const digits = unit === 0 || value >= 100 ? 0 : 1;
    return `${Number(value.toFixed(digits))}${units[unit]}`;
}

/** "850ms" under a second, "1.2s" above: the reference's processing_time style. */
export function formatDuration(ms: number): string {
    if (ms < 1000) return `${Math.round(ms)}ms`;
    return `${Number((ms / 1000).toFixed(ms < 10_000 ? 2 : 1))}s`;
}
