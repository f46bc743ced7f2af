import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The `bench/` folder. */
export const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The repository root (the checkout that holds `bench/` and `packages/`). */
export const repoRoot = resolve(benchDir, "..");

/** True when `moduleUrl` (a module's `import.meta.url`) is the script node was started with. */
export function isMainModule(moduleUrl: string): boolean {
    return process.argv[1] != null && resolve(process.argv[1]) === fileURLToPath(moduleUrl);
}
