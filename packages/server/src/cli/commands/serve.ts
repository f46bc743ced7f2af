import type { Command } from "commander";
import { envNames } from "../../config/loadConfig.js";

export function register(program: Command): void {
    program
        .command("serve")
        .description("Run the API server")
        .option("--host <host>", `address to listen on (env ${envNames.host}; default 127.0.0.1)`)
        .option("--port <port>", `port to listen on (env ${envNames.port}; default 8000)`)
        .option("--models-dir <dir>", `directory scanned for *.gguf models (env ${envNames.modelsDir}; default ~/.quandex/models)`)
        .option("--data-dir <dir>", `directory for the key database (env ${envNames.dataDir}; default ~/.quandex/data)`)
        .option("--config <file>", `YAML or JSON config file (env ${envNames.config})`)
        .option("--log-level <level>", `fatal|error|warn|info|debug|trace|silent (env ${envNames.logLevel}; default info)`)
        .option("--redis-url <url>", `share keys and limits across replicas through Redis (env ${envNames.redisUrl})`)
        .action(async (flags: Record<string, string | undefined>) => {
            // Imported here so client commands don't pay for loading llama.cpp.
            const { startServer } = await import("../../startServer.js");
            const server = await startServer(flags);
            let signals = 0;
            const onSignal = (signal: NodeJS.Signals): void => {
                signals++;
                if (signals > 1) {
                    process.stderr.write(`quandex: second ${signal}, exiting now\n`);
                    process.exit(1);
                }
                void server.shutdown().then(
                    () => process.exit(0),
                    (error: unknown) => {
                        process.stderr.write(`quandex: shutdown failed: ${String(error)}\n`);
                        process.exit(1);
                    }
                );
            };
            process.on("SIGINT", onSignal);
            process.on("SIGTERM", onSignal);
        });
}
