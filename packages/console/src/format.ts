/** Display helpers: they format the server's figures, never make one up (`—` where a figure is missing). */
export function bytes(value: number | null | undefined): string {
    if (value === null || value === undefined) return "—";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let v = value;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
        v /= 1024;
        i++;
    }
    return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function num(value: number | null | undefined, digits = 1): string {
    return value === null || value === undefined || !Number.isFinite(value) ? "—" : value.toFixed(digits);
}

export function ms(value: number | null | undefined): string {
    return value === null || value === undefined ? "—" : `${value.toFixed(value < 10 ? 2 : 0)} ms`;
}

export function duration(seconds: number): string {
    const s = Math.floor(seconds);
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
}

/** A figure that `/v1/stats` may or may not carry (e.g. TTFT quantiles): the number, or null when absent. */
export function optionalFigure(record: object, name: string): number | null {
    const value = (record as Record<string, unknown>)[name];
    return typeof value === "number" && Number.isFinite(value) ? value : null;
}
