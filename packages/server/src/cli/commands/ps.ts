import type { Command } from "commander";
import { clientFrom, printJson, printTable, runClientAction, withClientOptions, type ClientFlags } from "./clientCommand.js";

/** `quandex ps`: the loaded (and loading) models, their memory, busy sequences and when each unloads. */
export function register(program: Command): void {
    withClientOptions(program.command("ps").description("List the models a running server has loaded")).action(async (flags: ClientFlags) =>
        runClientAction(
            () => clientFrom(flags),
            async (client) => {
                const loaded = (await client.listModels()).models.filter((m) => m.status === "ready" || m.status === "loading");
                if (flags.json) return printJson(loaded);
                if (loaded.length === 0) {
                    process.stdout.write("No models loaded.\n");
                    return;
                }
                const now = Date.now();
                const rows = loaded.map((m) => [
                    m.id,
                    m.status,
                    m.memory_usage,
                    m.backend ?? "-",
                    `${m.busy_sequences}/${m.parallel}`,
                    m.status === "loading" ? "-" : m.busy_sequences > 0 ? "busy" : m.expires_at === null ? "never" : `in ${untilText(Date.parse(m.expires_at) - now)}`
                ]);
                printTable(["ID", "STATUS", "MEMORY", "BACKEND", "BUSY", "UNLOADS"], rows);
            }
        )
    );
}

function untilText(ms: number): string {
    const seconds = Math.max(0, Math.round(ms / 1000));
    if (seconds < 60) return `${seconds}s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
    return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}m`;
}
