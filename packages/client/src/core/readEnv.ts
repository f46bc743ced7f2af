/**
 * Reads an environment variable where there is one. Browsers have no `process`, so it is looked up
 * on `globalThis` rather than referenced directly (a bare `process` would throw a ReferenceError).
 * Blank values count as unset.
 */
export function readEnv(name: string): string | undefined {
    const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
    const value = proc?.env?.[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
}
