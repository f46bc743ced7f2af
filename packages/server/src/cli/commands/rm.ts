import type { Command } from "commander";
import { clientFrom, printJson, runClientAction, withClientOptions, type ClientFlags } from "./clientCommand.js";

/** `quandex rm ID`: deletes a model's file(s) from the running server's models dir (refused while it is busy). */
export function register(program: Command): void {
    withClientOptions(program.command("rm").description("Delete a model's file(s) from the server's models dir").argument("<id>", "model id or alias")).action(
        async (id: string, flags: ClientFlags) =>
            runClientAction(
                () => clientFrom(flags),
                async (client) => {
                    const entry = await client.deleteModel(id);
                    if (flags.json) return printJson(entry);
                    process.stdout.write(`deleted: ${entry.id}\n`);
                }
            )
    );
}
