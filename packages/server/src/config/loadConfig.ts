import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Value } from "@sinclair/typebox/value";
import { bundledLlamaCppSource, defaultLlamaServerVariant, findBuiltLlamaServer, llamaServerInstallDir } from "@quandex/engine";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "./ConfigError.js";
import { ConfigFileSchema, type ConfigFile } from "./ConfigFileSchema.js";
import type { ServerConfig } from "./ServerConfig.js";

/** Settings given on the command line; each has an env twin (see {@link envNames}). */
export interface ConfigFlags {
    host?: string;
    port?: string;
    modelsDir?: string;
    dataDir?: string;
    config?: string;
    logLevel?: string;
    redisUrl?: string;
}

export const envNames = {
    host: "QUANDEX_HOST",
    port: "QUANDEX_PORT",
    modelsDir: "QUANDEX_MODELS_DIR",
    dataDir: "QUANDEX_DATA_DIR",
    config: "QUANDEX_CONFIG",
    logLevel: "QUANDEX_LOG_LEVEL",
    redisUrl: "QUANDEX_REDIS_URL"
} as const satisfies Record<keyof ConfigFlags, string>;

export interface LoadConfigInput {
    flags?: ConfigFlags;
    env?: NodeJS.ProcessEnv;
    /** Base for `~/.quandex` defaults. Defaults to `QUANDEX_HOME` or the user's home. */
    home?: string;
}

/**
 * Builds the one configuration: flag > env (`QUANDEX_*`) > file > default. Invalid values throw a
 * {@link ConfigError} naming the key; nothing falls back silently.
 */
export function loadConfig(input: LoadConfigInput = {}): ServerConfig {
    const flags = input.flags ?? {};
    const env = input.env ?? process.env;
    const home = input.home ?? env.QUANDEX_HOME ?? path.join(os.homedir(), ".quandex");
    const pick = (name: keyof ConfigFlags): { value: string; key: string } | undefined => {
        const flag = flags[name];
        if (flag !== undefined) return { value: flag, key: `--${kebab(name)}` };
        const fromEnv = env[envNames[name]];
        if (fromEnv !== undefined && fromEnv !== "") return { value: fromEnv, key: envNames[name] };
        return undefined;
    };

    const configPick = pick("config");
    const configPath = configPick ? path.resolve(configPick.value) : null;
    const file = configPath ? readConfigFile(configPath) : {};
    const server = file.server ?? {};
    const fileDir = configPath ? path.dirname(configPath) : process.cwd();

    const portPick = pick("port");
    const port = portPick ? parsePort(portPick.value, portPick.key) : (server.port ?? 8000);
    const logLevelPick = pick("logLevel");
    const logLevel = logLevelPick?.value ?? server.log_level ?? "info";
    if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(logLevel)) {
        throw new ConfigError(logLevelPick?.key ?? "server.log_level", `'${logLevel}' is not one of fatal, error, warn, info, debug, trace, silent`);
    }
    const dirFrom = (name: "modelsDir" | "dataDir", fileValue: string | undefined, fallback: string): string => {
        const picked = pick(name);
        if (picked) return path.resolve(picked.value);
        if (fileValue !== undefined) return path.resolve(fileDir, fileValue);
        return fallback;
    };
    const redisPick = pick("redisUrl");

    const defaults = file.model_defaults ?? {};
    const modelDefaults = {
        contextSize: defaults.context_size ?? 2048,
        parallel: defaults.parallel ?? 4,
        gpu: defaults.gpu ?? "auto",
        threads: defaults.threads ?? "auto"
    } as const;

    const config: ServerConfig = {
        host: pick("host")?.value ?? server.host ?? "127.0.0.1",
        port,
        modelsDir: dirFrom("modelsDir", server.models_dir, path.join(home, "models")),
        dataDir: dirFrom("dataDir", server.data_dir, path.join(home, "data")),
        configPath,
        logLevel,
        maxQueue: server.max_queue ?? 64,
        requestTimeoutMs: (server.request_timeout ?? 60) * 1000,
        shutdownGraceMs: (server.shutdown_grace ?? 10) * 1000,
        keepAliveMs: (server.keep_alive_interval ?? 15) * 1000,
        corsOrigins: server.cors_origins ?? [],
        trustProxy: server.trust_proxy ?? false,
        defaultScopes: server.keys?.default_scopes ?? ["generate", "read"],
        limits: {
            defaultRps: server.limits?.default_rps ?? 10,
            defaultBurst: server.limits?.default_burst ?? 20,
            defaultDaily: server.limits?.default_daily === undefined ? 1000 : server.limits.default_daily,
            authFailuresPerMinute: server.limits?.auth_failures_per_minute ?? 30,
            failOpen: server.limits?.fail_open ?? false
        },
        redisUrl: redisPick?.value ?? server.redis_url ?? null,
        engine: engineSettings(file.engine, fileDir, home),
        modelDefaults,
        models: (file.models ?? []).map((model) => ({
            id: model.id,
            path: path.resolve(fileDir, model.path),
            aliases: model.aliases ?? [],
            options: {
                ...(model.context_size !== undefined && { contextSize: model.context_size }),
                ...(model.parallel !== undefined && { parallel: model.parallel }),
                ...(model.gpu !== undefined && { gpu: model.gpu }),
                ...(model.threads !== undefined && { threads: model.threads })
            },
            preload: model.preload ?? false
        }))
    };
    return Object.freeze(config);
}

/** The engine section; llama-server's path defaults to the build `quandex engine build` installed. */
function engineSettings(engine: ConfigFile["engine"], fileDir: string, home: string): ServerConfig["engine"] {
    const type = engine?.type ?? "node-llama-cpp";
    const gpu = engine?.gpu ?? "auto";
    if (type === "node-llama-cpp") {
        if (engine?.path !== undefined) throw new ConfigError("engine.path", "only the llama-server engine takes a path");
        return { type, gpu, path: null, build: engine?.build ?? "auto" };
    }
    if (engine?.build !== undefined) throw new ConfigError("engine.build", "only the node-llama-cpp engine takes a build; llama-server is always a local build");
    const build = "auto";
    if (engine?.path !== undefined) return { type, gpu, path: path.resolve(fileDir, engine.path), build };
    // When nothing is built yet, the path a build would have, so the startup error names it.
    const built = findBuiltLlamaServer(home)?.serverPath;
    if (built) return { type, gpu, path: built, build };
    let release = "<llama.cpp release>";
    try {
        release = bundledLlamaCppSource().release;
    } catch {
        // Only the message is affected.
    }
    return { type, gpu, path: path.join(llamaServerInstallDir(home, release, defaultLlamaServerVariant()), "bin", "llama-server"), build };
}

function readConfigFile(configPath: string): ConfigFile {
    let text: string;
    try {
        text = readFileSync(configPath, "utf8");
    } catch (error) {
        throw new ConfigError("--config", `cannot read ${configPath}: ${(error as Error).message}`);
    }
    let data: unknown;
    try {
        // YAML 1.2 is a superset of JSON, so one parser reads both formats.
        data = parseYaml(text, { uniqueKeys: true }) ?? {};
    } catch (error) {
        throw new ConfigError(configPath, `not valid YAML or JSON: ${(error as Error).message}`);
    }
    const first = Value.Errors(ConfigFileSchema, data).First();
    if (first) {
        const key = pointerToKey(first.path) || "(root)";
        const detail = first.message.toLowerCase().includes("unexpected property") ? "unknown key" : first.message;
        throw new ConfigError(key, `${detail} (got ${JSON.stringify(first.value)})`);
    }
    return data as ConfigFile;
}

/** `/models/0/aliases/1` → `models[0].aliases[1]`. */
function pointerToKey(pointer: string): string {
    return pointer
        .split("/")
        .filter(Boolean)
        .map((part, index) => (/^\d+$/.test(part) ? `[${part}]` : index === 0 ? part : `.${part}`))
        .join("");
}

function parsePort(value: string, key: string): number {
    if (!/^\d+$/.test(value)) throw new ConfigError(key, `'${value}' is not a port number`);
    const port = Number(value);
    if (port > 65535) throw new ConfigError(key, `${port} is above 65535`);
    return port;
}

function kebab(name: string): string {
    return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
