import type { Command } from "commander";
import { clientFrom, printJson, printTable, runClientAction, withClientOptions, type ClientFlags } from "./clientCommand.js";

/** `quandex models`: the server's models and their state, as a table. */
export function register(program: Command): void {
    withClientOptions(program.command("models").description("List the models of a running server")).action(async (flags: ClientFlags) =>
        runClientAction(
            () => clientFrom(flags),
            async (client) => {
                const list = await client.listModels();
                if (flags.json) return printJson(list);
                if (list.models.length === 0) {
                    process.stdout.write("No models. Put *.gguf files in the server's models directory.\n");
                    return;
                }
                const rows = list.models.map((m) => [
                    m.id,
                    m.status === "error" && m.error ? `error: ${m.error}` : m.status,
                    m.memory_usage,
                    m.backend ?? "-",
                    m.metal_optimized ? "yes" : "no",
                    String(m.context_size),
                    String(m.parallel),
                    m.aliases.join(",") || "-"
                ]);
                printTable(["ID", "STATUS", "MEMORY", "BACKEND", "GPU", "CONTEXT", "PARALLEL", "ALIASES"], rows);
            }
        )
    );
}
