import type { Command } from "commander";
import { APIConnectionError, APIError, APIUserAbortError, QuandexClient } from "@quandex/client";

/** Flags shared by the commands that talk to a running server through @quandex/client. */
export interface ClientFlags {
    baseUrl?: string;
    apiKey?: string;
    json?: boolean;
}

/** Adds `--base-url`, `--api-key` and `--json` to a client command. */
export function withClientOptions(command: Command): Command {
    return command
        .option("--base-url <url>", "the server's API root (env QUANDEX_BASE_URL; default http://localhost:8000/v1)")
        .option("--api-key <key>", "API key (env QUANDEX_API_KEY)")
        .option("--json", "print JSON for scripts");
}

/** A client from the flags, falling back to the environment the way the SDK does. */
export function clientFrom(flags: ClientFlags): QuandexClient {
    const apiKey = flags.apiKey ?? process.env.QUANDEX_API_KEY;
    if (!apiKey) throw new Error("no API key: pass --api-key or set QUANDEX_API_KEY (create one with: quandex keys create --name NAME)");
    return new QuandexClient({ apiKey, baseURL: flags.baseUrl });
}

/**
 * Runs a command's body and turns any SDK error into one readable line (main.ts prints it to stderr
 * and exits non-zero). Ctrl-C during a call is not an error: it exits with 130 quietly.
 */
export async function runClientAction(client: () => QuandexClient, body: (client: QuandexClient) => Promise<void>): Promise<void> {
    let instance: QuandexClient | undefined;
    try {
        instance = client();
        await body(instance);
    } catch (error) {
        if (error instanceof APIUserAbortError) {
            process.exitCode = 130;
            return;
        }
        throw new Error(describeError(error, instance?.baseURL), { cause: error });
    }
}

function describeError(error: unknown, baseURL: string | undefined): string {
    const oneLine = (text: string): string => text.replace(/\s+/g, " ").trim();
    if (error instanceof APIError) {
        const code = error.code ? ` ${error.code}` : "";
        const request = error.requestId ? ` (request ${error.requestId})` : "";
        return oneLine(`${error.status}${code}: ${error.message}${request}`);
    }
    if (error instanceof APIConnectionError) return oneLine(`cannot reach the server at ${baseURL ?? "?"}: ${error.message}`);
    return oneLine(error instanceof Error ? error.message : String(error));
}

/** Prints rows as aligned columns (the same style as `quandex keys list`). */
export function printTable(header: string[], rows: string[][]): void {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    for (const row of [header, ...rows])
        process.stdout.write(
            row
                .map((cell, i) => cell.padEnd(widths[i]!))
                .join("  ")
                .trimEnd() + "\n"
        );
}

/** Pretty JSON on stdout, for `--json`. */
export function printJson(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
