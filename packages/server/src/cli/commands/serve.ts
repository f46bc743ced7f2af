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
        .option("--log-format <format>", `pretty|json|auto: one readable or JSON line per request (env ${envNames.logFormat}; default auto = pretty on a TTY)`)
        .option("--redis-url <url>", `share keys and limits across replicas through Redis (env ${envNames.redisUrl})`)
        .option("--memory-budget <size>", `what loaded models may hold together: 12GB, 80%, auto (env ${envNames.memoryBudget}; default auto = 90% of free memory)`)
        .option("--hf-token <token>", `Hugging Face token for gated repos, sent to Hugging Face only (env ${envNames.hfToken})`)
        .option("--hf-endpoint <url>", `Hugging Face endpoint for pulls, e.g. a mirror (env ${envNames.hfEndpoint})`)
        .action(async (flags: Record<string, string | undefined>) => {
            // Imported here so client commands don't pay for loading llama.cpp.
            const { startServer } = await import("../../startServer.js");
            // A promise a library leaves unhandled (ipull 3.9.5 does when the disk fills mid-download)
            // must not take down a server that many people use: it is logged, and serving goes on.
            let log: ((reason: unknown) => void) | undefined;
            process.on("unhandledRejection", (reason) => {
                if (log) log(reason);
                else process.stderr.write(`quandex: unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`);
            });
            const server = await startServer(flags);
            log = (reason) => server.app.log.error({ err: reason }, "unhandled rejection; the server keeps running");
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
