/**
 * The multi-turn chat workload (issue #21) on one model: C conversations at once (1, then 8), each
 * of `turns` turns re-sending its whole history through `/v1/chat/completions`, streamed, on each
 * Quandex engine with prompt reuse on (`per_key`) and off, and on llama-server called directly with
 * its own defaults (`cache_prompt` on). Each variant is a fresh server; each round's conversations
 * open with a round tag, so no round reuses another's prompts.
 */
import { join } from "node:path";
import { describeMultiTurn } from "../format.js";
import { quandexChildArgs, startDirectLlamaServer, type DirectLlamaServer } from "../llamaServer/directLlamaServer.js";
import { startQuandexServer, type BenchEngineConfig, type QuandexServer } from "../process/quandexServer.js";
import { mergeMultiTurn, runConversations, type MultiTurnLevel } from "./runConversations.js";

export type MultiTurnVariant = {
    /** quandex/llama-server, quandex/node-llama-cpp, or llama-server direct. */
    label: string;
    engine: "llama-server" | "node-llama-cpp" | "direct";
    /** Prompt reuse: `per_key`, `off`, or `default` for llama-server called directly. */
    reuse: "per_key" | "off" | "default";
    levels: MultiTurnLevel[];
    command: string;
};

export type MultiTurnRun = {
    modelId: string;
    turns: number;
    maxTokens: number;
    contextSize: number;
    variants: MultiTurnVariant[];
};

export type MultiTurnOptions = {
    modelId: string;
    modelPath: string;
    /** The llama-server binary; without one only the in-process variants run. */
    llamaServer: string | null;
    conversations: number[];
    turns: number;
    maxTokens: number;
    /** Tokens per sequence: the system prompt, every turn and reply. */
    contextSize: number;
    rounds: number;
    workDir: string;
    log: (line: string) => void;
};

export async function runMultiTurn(options: MultiTurnOptions): Promise<MultiTurnRun> {
    const run: MultiTurnRun = { modelId: options.modelId, turns: options.turns, maxTokens: options.maxTokens, contextSize: options.contextSize, variants: [] };
    const parallel = Math.max(...options.conversations);
    const engines: Array<{ engine: BenchEngineConfig; label: string }> = [
        ...(options.llamaServer !== null ? [{ engine: { type: "llama-server", path: options.llamaServer } as BenchEngineConfig, label: "quandex/llama-server" }] : []),
        { engine: { type: "node-llama-cpp" }, label: "quandex/node-llama-cpp" }
    ];
    for (const { engine, label } of engines) {
        for (const reuse of ["per_key", "off"] as const) {
            const variant: MultiTurnVariant = { label, engine: engine.type, reuse, levels: [], command: "" };
            run.variants.push(variant);
            let server: QuandexServer | null = null;
            try {
                server = await startQuandexServer({
                    models: [{ id: options.modelId, path: options.modelPath, parallel, contextSize: options.contextSize, threads: undefined }],
                    engine,
                    workDir: join(options.workDir, `${engine.type}-${reuse}`),
                    promptCache: reuse
                });
                variant.command = server.command;
                const url = new URL("/v1/chat/completions", server.baseUrl);
                await measure(variant, url, server.apiKey, options);
                // The direct llama-server gets the binary and the model Quandex's child had, with llama-server's own defaults for the rest.
                if (engine.type === "llama-server" && reuse === "per_key") {
                    const child = quandexChildArgs(server.pid);
                    await server.stop();
                    server = null;
                    await runDirect(run, child.binary, directArgs(child.args), options);
                }
            } finally {
                await server?.stop();
            }
        }
    }
    return run;
}

async function runDirect(run: MultiTurnRun, binary: string, args: string[], options: MultiTurnOptions): Promise<void> {
    const variant: MultiTurnVariant = { label: "llama-server direct", engine: "direct", reuse: "default", levels: [], command: "" };
    run.variants.push(variant);
    let direct: DirectLlamaServer | null = null;
    try {
        direct = await startDirectLlamaServer({ binary, args, workDir: options.workDir });
        variant.command = direct.command;
        await measure(variant, new URL("/v1/chat/completions", direct.origin), null, options);
    } finally {
        await direct?.stop();
    }
}

async function measure(variant: MultiTurnVariant, url: URL, apiKey: string | null, options: MultiTurnOptions): Promise<void> {
    for (const conversations of options.conversations) {
        const rounds: MultiTurnLevel[] = [];
        for (let round = 0; round < options.rounds; round++) {
            const level = await runConversations({
                url,
                apiKey,
                model: options.modelId,
                conversations,
                turns: options.turns,
                maxTokens: options.maxTokens,
                round: `${variant.label}/${variant.reuse}/${conversations}/${round}`
            });
            options.log(describeMultiTurn(`${variant.label} reuse ${variant.reuse} round ${round + 1}`, level));
            rounds.push(level);
        }
        const merged = mergeMultiTurn(rounds);
        options.log(describeMultiTurn(`${variant.label} reuse ${variant.reuse}`, merged));
        variant.levels.push(merged);
    }
}

/**
 * llama-server as a user would start it for this model: the model, the context and slots and the
 * threads Quandex chose, and llama-server's defaults for everything else (its RAM prompt cache and
 * unified KV cache included), rather than Quandex's child flags (`--cache-ram 0`, `--no-kv-unified`).
 */
function directArgs(childArgs: readonly string[]): string[] {
    const keep = new Set(["--model", "--ctx-size", "--parallel", "--threads", "--threads-batch"]);
    const args: string[] = [];
    for (let i = 0; i < childArgs.length; i++) {
        const flag = childArgs[i]!;
        const value = childArgs[i + 1];
        if (keep.has(flag) && value !== undefined) {
            args.push(flag, value);
            i++;
        }
    }
    return args;
}
