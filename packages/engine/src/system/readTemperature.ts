import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

/**
 * Reads a device temperature in °C from sysfs: hwmon sensors first (`temp1_input`, millidegrees),
 * then thermal zones. Returns null when nothing is readable, as on most VMs; a guessed value
 * would be worse than none. `sysRoot` is injectable so tests can build a fake tree.
 */
export async function readTemperature(sysRoot = "/sys"): Promise<number | null> {
    const hwmon = await readFirstMillidegrees(path.join(sysRoot, "class/hwmon"), "temp1_input");
    if (hwmon !== null) return hwmon;
    return readFirstMillidegrees(path.join(sysRoot, "class/thermal"), "temp", (name) => name.startsWith("thermal_zone"));
}

async function readFirstMillidegrees(dir: string, file: string, accept: (name: string) => boolean = () => true): Promise<number | null> {
    let entries: string[];
    try {
        entries = (await readdir(dir)).filter(accept).sort();
    } catch {
        return null;
    }
    for (const entry of entries) {
        try {
            const raw = (await readFile(path.join(dir, entry, file), "utf8")).trim();
            const milli = Number(raw);
            if (raw !== "" && Number.isFinite(milli)) return Math.round(milli / 100) / 10;
        } catch {
            // This sensor is unreadable; try the next.
        }
    }
    return null;
}
