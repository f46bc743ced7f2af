import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";

/**
 * Takes a lock file for this process: created with O_EXCL, holding our pid. A lock left by a
 * process that is gone (killed mid-way) is taken over. Returns the release, or the live holder's
 * pid when another process has it; callers turn that into their own error.
 */
export function takePidLock(lockPath: string): { release: () => void } | { heldBy: number } {
    for (let attempt = 0; attempt < 2; attempt++) {
        try {
            const fd = openSync(lockPath, "wx");
            writeSync(fd, String(process.pid));
            closeSync(fd);
            return { release: () => rmSync(lockPath, { force: true }) };
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
            let holder = 0;
            try {
                holder = Number(readFileSync(lockPath, "utf8").trim());
            } catch {
                // Removed meanwhile: try again.
            }
            if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) return { heldBy: holder };
            rmSync(lockPath, { force: true });
        }
    }
    return { heldBy: 0 };
}

function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === "EPERM";
    }
}
