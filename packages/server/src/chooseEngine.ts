import { accessSync, constants } from "node:fs";
import path from "node:path";
import { findBuiltLlamaServer, LlamaServerEngine, NodeLlamaEngine, type Engine, type Logger } from "@quandex/engine";
import type { ServerConfig } from "./config/ServerConfig.js";

/** Which engine serves, and why: for the boot log and `/v1/stats`. */
export interface EngineChoice {
    engine: Engine;
    /** What the config asked for. */
    requested: ServerConfig["engine"]["type"];
    /** Why this engine, in words. */
    reason: string;
}

/**
 * The engine for the config. `auto` (the default) runs supervised llama-server children when a
 * usable binary is found (`engine.path`, the one `quandex engine build` installed, or `llama-server`
 * on PATH, checked the way `quandex engine check` does), and the in-process engine otherwise;
 * naming one forces it.
 */
export async function chooseEngine(config: Pick<ServerConfig, "engine" | "home"> & Partial<Pick<ServerConfig, "requestLimits">>, logger: Logger): Promise<EngineChoice> {
    const { engine } = config;
    const grammars = config.requestLimits && { limits: config.requestLimits.schema, compileTimeoutMs: config.requestLimits.grammarTimeoutMs };
    const inProcess = (): Promise<NodeLlamaEngine> => NodeLlamaEngine.create({ gpu: engine.gpu, build: engine.build, logger, ...(grammars && { grammars }) });
    if (engine.type === "node-llama-cpp") return { engine: await inProcess(), requested: engine.type, reason: "engine.type is node-llama-cpp" };
    if (engine.type === "llama-server") {
        return {
            engine: await LlamaServerEngine.create({ binaryPath: engine.path!, gpu: engine.gpu, logger, watchdogTimeoutMs: engine.watchdogTimeoutMs }),
            requested: engine.type,
            reason: "engine.type is llama-server"
        };
    }
    const refused: string[] = [];
    for (const candidate of llamaServerCandidates(config)) {
        try {
            const chosen = await LlamaServerEngine.create({ binaryPath: candidate.path, gpu: engine.gpu, logger, watchdogTimeoutMs: engine.watchdogTimeoutMs });
            return { engine: chosen, requested: "auto", reason: `found a usable llama-server (${candidate.from}: ${candidate.path})` };
        } catch (error) {
            // A binary that cannot serve (too old, missing flags) must not stop the boot under `auto`.
            refused.push(`${candidate.path}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
        }
    }
    const looked = refused.length > 0 ? `no usable llama-server (${refused.join("; ")})` : "no llama-server binary is built or on PATH";
    return { engine: await inProcess(), requested: "auto", reason: `${looked}; serving in-process` };
}

function llamaServerCandidates(config: Pick<ServerConfig, "engine" | "home">): Array<{ path: string; from: string }> {
    const found: Array<{ path: string; from: string }> = [];
    if (config.engine.path !== null) found.push({ path: config.engine.path, from: "engine.path" });
    const built = findBuiltLlamaServer(config.home)?.serverPath;
    if (built) found.push({ path: built, from: "built by quandex engine build" });
    const onPath = findOnPath("llama-server");
    if (onPath) found.push({ path: onPath, from: "on PATH" });
    return found.filter((candidate, index) => found.findIndex((other) => other.path === candidate.path) === index);
}

function findOnPath(name: string): string | null {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        if (dir === "") continue;
        const candidate = path.join(dir, name);
        try {
            accessSync(candidate, constants.X_OK);
            return candidate;
        } catch {
            // Not here.
        }
    }
    return null;
}
