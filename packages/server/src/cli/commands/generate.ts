import { InvalidArgumentError, type Command } from "commander";
import type { GenerateParams } from "@quandex/client";
import { clientFrom, printJson, runClientAction, withClientOptions, type ClientFlags } from "./clientCommand.js";

interface GenerateFlags extends ClientFlags {
    model: string;
    maxTokens?: number;
    temperature?: number;
    seed?: number;
    stream?: boolean;
}

/** `quandex generate "prompt" --model M`: one completion, printed whole or token by token. */
export function register(program: Command): void {
    withClientOptions(
        program
            .command("generate")
            .description("Generate text from a prompt on a running server")
            .argument("<prompt>", "the text to continue")
            .requiredOption("-m, --model <model>", "model id or alias")
            .option("--max-tokens <n>", "most tokens to generate (default: the room left in the context)", parseInteger(1))
            .option("--temperature <t>", "sampling temperature, 0 (greedy) to 2 (default 0.8)", parseNumber)
            .option("--seed <n>", "sampling seed, for reproducible output", parseInteger(0))
            .option("--stream", "print tokens as they are generated")
    ).action(async (prompt: string, flags: GenerateFlags) =>
        runClientAction(
            () => clientFrom(flags),
            async (client) => {
                const params: GenerateParams = {
                    model: flags.model,
                    prompt,
                    ...(flags.maxTokens !== undefined && { max_tokens: flags.maxTokens }),
                    ...(flags.temperature !== undefined && { temperature: flags.temperature }),
                    ...(flags.seed !== undefined && { seed: flags.seed })
                };
                if (!flags.stream) {
                    const result = await client.generate(params);
                    if (flags.json) printJson(result);
                    else process.stdout.write(`${result.text}\n`);
                    return;
                }
                // Ctrl-C closes the stream, so the server stops generating at once.
                const stop = new AbortController();
                const onSigint = (): void => stop.abort();
                process.once("SIGINT", onSigint);
                try {
                    for await (const chunk of client.streamGenerate(params, { signal: stop.signal })) {
                        // --json streams the wire chunks as NDJSON, one per line, for scripts.
                        process.stdout.write(flags.json ? `${JSON.stringify(chunk)}\n` : chunk.text);
                    }
                    if (!flags.json) process.stdout.write("\n");
                } finally {
                    process.removeListener("SIGINT", onSigint);
                }
            }
        )
    );
}

function parseNumber(value: string): number {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError("must be a number");
    return n;
}

function parseInteger(min: number): (value: string) => number {
    return (value) => {
        const n = parseNumber(value);
        if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be a whole number >= ${min}`);
        return n;
    };
}
