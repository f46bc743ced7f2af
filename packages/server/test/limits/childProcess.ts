import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root, where `--import tsx` resolves. */
const root = join(here, "..", "..", "..", "..");

/** Runs a TypeScript fixture from `fixtures/` in its own Node process through tsx. */
export function spawnFixture(name: string, args: string[]): ChildProcessWithoutNullStreams {
    return spawn(process.execPath, ["--import", "tsx", join(here, "fixtures", name), ...args], { cwd: root, stdio: "pipe" });
}

/** Resolves with the child's stdout once `predicate` accepts it (or rejects when it exits first). */
export function waitForOutput(child: ChildProcessWithoutNullStreams, predicate: (stdout: string) => boolean, timeoutMs = 20_000): Promise<string> {
    return new Promise((resolve, reject) => {
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => finish(new Error(`timed out; stdout: ${stdout.slice(-500)} stderr: ${stderr.slice(-2000)}`)), timeoutMs);
        const onData = (chunk: Buffer): void => {
            stdout += chunk.toString();
            if (predicate(stdout)) finish(null);
        };
        const onErr = (chunk: Buffer): void => {
            stderr += chunk.toString();
        };
        const onExit = (code: number | null): void => finish(new Error(`exited with ${code}; stderr: ${stderr.slice(-2000)}`));
        const finish = (error: Error | null): void => {
            clearTimeout(timer);
            child.stdout.off("data", onData);
            child.stderr.off("data", onErr);
            child.off("exit", onExit);
            if (error) reject(error);
            else resolve(stdout);
        };
        child.stdout.on("data", onData);
        child.stderr.on("data", onErr);
        child.once("exit", onExit);
    });
}
