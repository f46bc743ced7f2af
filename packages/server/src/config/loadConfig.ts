import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Value } from "@sinclair/typebox/value";
import { bundledLlamaCppSource, defaultLlamaServerVariant, defaultSchemaLimits, findBuiltLlamaServer, llamaServerInstallDir } from "@quandex/engine";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "./ConfigError.js";
import { upstreamsFrom } from "./upstreamsFrom.js";
import { parseKeepAlive } from "@quandex/protocol";
import { ConfigFileSchema, type ConfigFile } from "./ConfigFileSchema.js";
import { parseMemoryBudget, type MemoryBudget } from "./MemoryBudget.js";
import type { ServerConfig } from "./ServerConfig.js";

/** Settings given on the command line; each has an env twin (see {@link envNames}). */
export interface ConfigFlags {
    host?: string;
    port?: string;
    modelsDir?: string;
    dataDir?: string;
    config?: string;
    logLevel?: string;
    logFormat?: string;
    redisUrl?: string;
    memoryBudget?: string;
    hfToken?: string;
    hfEndpoint?: string;
}

export const envNames = {
    host: "QUANDEX_HOST",
    port: "QUANDEX_PORT",
    modelsDir: "QUANDEX_MODELS_DIR",
    dataDir: "QUANDEX_DATA_DIR",
    config: "QUANDEX_CONFIG",
    logLevel: "QUANDEX_LOG_LEVEL",
    logFormat: "QUANDEX_LOG_FORMAT",
    redisUrl: "QUANDEX_REDIS_URL",
    memoryBudget: "QUANDEX_MEMORY_BUDGET",
    // The names every Hugging Face tool reads (huggingface_hub, llama.cpp, node-llama-cpp).
    hfToken: "HF_TOKEN",
    hfEndpoint: "HF_ENDPOINT"
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
    const logFormatPick = pick("logFormat");
    const logFormat = logFormatPick?.value ?? server.log_format ?? "auto";
    if (logFormat !== "auto" && logFormat !== "pretty" && logFormat !== "json") {
        throw new ConfigError(logFormatPick?.key ?? "server.log_format", `'${logFormat}' is not one of auto, pretty, json`);
    }
    const redisPick = pick("redisUrl");
    const budgetPick = pick("memoryBudget");
    const hfEndpointPick = pick("hfEndpoint");

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
        home,
        logLevel,
        maxQueue: server.max_queue ?? 64,
        requestTimeoutMs: (server.request_timeout ?? 60) * 1000,
        shutdownGraceMs: (server.shutdown_grace ?? 30) * 1000,
        keepAliveMs: (server.keep_alive_interval ?? 15) * 1000,
        streamBufferLimitBytes: server.stream_buffer_limit ?? 1_048_576,
        idleTimeoutMs: (server.idle_timeout ?? 60) * 1000,
        corsOrigins: server.cors_origins ?? [],
        tls: tlsFrom(server.tls, fileDir),
        requestLimits: requestLimitsFrom(server.request_limits),
        trustProxy: server.trust_proxy ?? false,
        defaultScopes: server.keys?.default_scopes ?? ["generate", "read"],
        limits: {
            defaultRps: server.limits?.default_rps ?? 10,
            defaultBurst: server.limits?.default_burst ?? 20,
            defaultDaily: server.limits?.default_daily === undefined ? 1000 : server.limits.default_daily,
            authFailuresPerMinute: server.limits?.auth_failures_per_minute ?? 30,
            redisUnavailable: server.limits?.redis_unavailable ?? "fail_closed"
        },
        redisUrl: redisPick?.value ?? server.redis_url ?? null,
        memoryBudget: memoryBudgetFrom(budgetPick?.value ?? server.memory_budget ?? "auto", budgetPick?.key ?? "server.memory_budget"),
        defaultKeepAliveMs: keepAliveFrom(defaults.keep_alive ?? "5m", "model_defaults.keep_alive"),
        hfToken: pick("hfToken")?.value ?? server.hf_token ?? null,
        hfEndpoint: urlFrom(hfEndpointPick?.value ?? server.hf_endpoint ?? null, hfEndpointPick?.key ?? "server.hf_endpoint"),
        promptCache: server.prompt_cache ?? "per_key",
        metrics: { enabled: server.metrics?.enabled ?? true, auth: server.metrics?.auth ?? "key" },
        ollamaApi: ollamaApiFrom(server.ollama_api),
        logPrompts: server.log_prompts ?? false,
        logFormat,
        engine: { ...engineSettings(file.engine, fileDir, home), watchdogTimeoutMs: (file.engine?.watchdog_timeout ?? 15) * 1000 },
        modelDefaults,
        models: (file.models ?? []).map((model, index) => ({
            id: model.id,
            path: path.resolve(fileDir, model.path),
            aliases: model.aliases ?? [],
            options: {
                ...(model.context_size !== undefined && { contextSize: model.context_size }),
                ...(model.parallel !== undefined && { parallel: model.parallel }),
                ...(model.gpu !== undefined && { gpu: model.gpu }),
                ...(model.threads !== undefined && { threads: model.threads })
            },
            preload: model.preload ?? false,
            ...(model.keep_alive !== undefined && { keepAliveMs: keepAliveFrom(model.keep_alive, `models[${index}].keep_alive`) })
        })),
        upstreams: upstreamsFrom(file.upstreams, env)
    };
    return Object.freeze(config);
}

/**
 * The engine section. `auto` (the default) keeps `path` as configured (or `null`): the server
 * looks for a usable llama-server at boot. For `llama-server`, the path defaults to the build
 * `quandex engine build` installed.
 */
function engineSettings(engine: ConfigFile["engine"], fileDir: string, home: string): Omit<ServerConfig["engine"], "watchdogTimeoutMs"> {
    const type = engine?.type ?? "auto";
    const gpu = engine?.gpu ?? "auto";
    if (type === "node-llama-cpp") {
        if (engine?.path !== undefined) throw new ConfigError("engine.path", "only the llama-server engine takes a path");
        return { type, gpu, path: null, build: engine?.build ?? "auto" };
    }
    const configuredPath = engine?.path === undefined ? null : path.resolve(fileDir, engine.path);
    if (type === "auto") return { type, gpu, path: configuredPath, build: engine?.build ?? "auto" };
    if (engine?.build !== undefined) throw new ConfigError("engine.build", "only the node-llama-cpp engine takes a build; llama-server is always a local build");
    const build = "auto";
    if (configuredPath !== null) return { type, gpu, path: configuredPath, build };
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

/** `server.tls`: the certificate and key files (relative to the config file), read and checked to be PEM at boot. */
function tlsFrom(tls: NonNullable<ConfigFile["server"]>["tls"], fileDir: string): ServerConfig["tls"] {
    if (!tls) return null;
    const read = (key: "cert" | "key"): { file: string; text: string } => {
        const file = path.resolve(fileDir, tls[key]);
        let text: string;
        try {
            text = readFileSync(file, "utf8");
        } catch (error) {
            throw new ConfigError(`server.tls.${key}`, `cannot read ${file}: ${(error as Error).message}`);
        }
        if (!text.includes("-----BEGIN ")) throw new ConfigError(`server.tls.${key}`, `${file} is not a PEM file`);
        return { file, text };
    };
    const cert = read("cert");
    const key = read("key");
    return { certPath: cert.file, keyPath: key.file, cert: cert.text, key: key.text };
}

/** `server.request_limits`, with the documented defaults. */
function requestLimitsFrom(limits: NonNullable<ConfigFile["server"]>["request_limits"]): ServerConfig["requestLimits"] {
    return {
        bodyBytes: limits?.body_bytes ?? 1_048_576,
        headerBytes: limits?.header_bytes ?? 16_384,
        connectionsPerIp: limits?.connections_per_ip ?? 64,
        schema: {
            maxDepth: limits?.schema_depth ?? defaultSchemaLimits.maxDepth,
            maxEnumValues: limits?.schema_enum_values ?? defaultSchemaLimits.maxEnumValues,
            maxProperties: limits?.schema_properties ?? defaultSchemaLimits.maxProperties,
            maxBytes: limits?.schema_bytes ?? defaultSchemaLimits.maxBytes
        },
        grammarTimeoutMs: (limits?.grammar_timeout ?? 5) * 1000
    };
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

function memoryBudgetFrom(value: string | number, key: string): MemoryBudget {
    try {
        return parseMemoryBudget(value);
    } catch (error) {
        throw new ConfigError(key, (error as Error).message);
    }
}

function keepAliveFrom(value: string | number, key: string): number | null {
    try {
        return parseKeepAlive(value);
    } catch (error) {
        throw new ConfigError(key, (error as Error).message);
    }
}

function urlFrom(value: string | null, key: string): string | null {
    if (value === null) return null;
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        throw new ConfigError(key, `'${value}' is not a URL`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new ConfigError(key, `'${value}' is not an http(s) URL`);
    return url.href;
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

function ollamaApiFrom(section: { enabled?: boolean; auth?: "key" | "none"; anonymous_key?: string } | undefined): ServerConfig["ollamaApi"] {
    const auth = section?.auth ?? "key";
    const anonymousKey = section?.anonymous_key ?? null;
    if (auth === "none" && anonymousKey === null) {
        throw new ConfigError(
            "server.ollama_api.anonymous_key",
            "is required with auth: none: create a key for Ollama clients without one (quandex keys create --name ollama-anonymous) and give its id, so its limits apply to them"
        );
    }
    return { enabled: section?.enabled ?? true, auth, anonymousKey };
}
