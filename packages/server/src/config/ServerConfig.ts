import type { UpstreamPoolConfig } from "@quandex/engine";
import type { ConfiguredModel, ModelLoadOptions, SchemaLimits } from "@quandex/engine";
import type { Scope } from "./ConfigFileSchema.js";
import type { MemoryBudget } from "./MemoryBudget.js";

/** `server.request_limits`, resolved. */
export interface RequestLimits {
    readonly bodyBytes: number;
    readonly headerBytes: number;
    /** Connections one address may hold open before any of its requests authenticated. */
    readonly connectionsPerIp: number;
    readonly schema: SchemaLimits;
    /** How long a JSON schema's grammar may take to compile, in ms. */
    readonly grammarTimeoutMs: number;
}

/** The validated, frozen configuration. Produced only by `loadConfig`; nothing else reads env or files. */
export interface ServerConfig {
    readonly host: string;
    readonly port: number;
    readonly modelsDir: string;
    readonly dataDir: string;
    readonly configPath: string | null;
    /** The `~/.quandex` base (`QUANDEX_HOME`): where built engines are found. */
    readonly home: string;
    readonly logLevel: string;
    /** Requests that may wait for a sequence, across models. */
    readonly maxQueue: number;
    /** Longest wait for a sequence (or a load the request started), in ms. */
    readonly requestTimeoutMs: number;
    /** How long shutdown lets in-flight requests finish, in ms. */
    readonly shutdownGraceMs: number;
    /** Interval of SSE keep-alive comments, in ms. */
    readonly keepAliveMs: number;
    /** Bytes of one stream's response that may wait for a slow client; past it the stream ends with an error frame. */
    readonly streamBufferLimitBytes: number;
    /** How long a stream's unsent bytes may wait with the client taking none before its connection is closed, in ms. */
    readonly idleTimeoutMs: number;
    readonly corsOrigins: readonly string[];
    /** HTTPS with these PEM contents (read at boot), or `null` for plain HTTP. */
    readonly tls: { readonly certPath: string; readonly keyPath: string; readonly cert: string; readonly key: string } | null;
    /** `server.request_limits`: bounds on what a client controls. */
    readonly requestLimits: RequestLimits;
    readonly trustProxy: boolean | string | readonly string[];
    readonly defaultScopes: readonly Scope[];
    readonly limits: {
        readonly defaultRps: number;
        readonly defaultBurst: number;
        readonly defaultDaily: number | null;
        readonly authFailuresPerMinute: number;
        /** With Redis: what requests get while Redis is down (`server.limits.redis_unavailable`). */
        readonly redisUnavailable: "fail_closed" | "fail_open";
    };
    readonly redisUrl: string | null;
    /** What all loaded models may hold together; resolved to bytes at boot. */
    readonly memoryBudget: MemoryBudget;
    /** How long an idle model stays loaded, in ms; `null` forever (`model_defaults.keep_alive`). */
    readonly defaultKeepAliveMs: number | null;
    /** Sent to Hugging Face only, never logged. */
    readonly hfToken: string | null;
    /** The hub pulls use; `null` for huggingface.co. */
    readonly hfEndpoint: string | null;
    /** Who may reuse an evaluated prompt prefix: the same key, every key, or nobody. */
    readonly promptCache: "per_key" | "shared" | "off";
    /** `GET /metrics`: whether it is served, and whether it needs a key (`metrics` or `admin` scope). */
    readonly metrics: { readonly enabled: boolean; readonly auth: "key" | "none" };
    /** Ollama's `/api/*`: whether it is served, and who may use it without a key (as `anonymousKey`). */
    readonly ollamaApi: { readonly enabled: boolean; readonly auth: "key" | "none"; readonly anonymousKey: string | null };
    /** Whether the per-request log line carries prompts and outputs. */
    readonly logPrompts: boolean;
    /** `auto`: pretty on a TTY, JSON otherwise (resolved at boot). */
    readonly logFormat: "auto" | "pretty" | "json";
    /** `path` is the llama-server binary (type `llama-server` only; null for node-llama-cpp). */
    readonly engine: {
        /** `auto`: llama-server when a usable binary is found (`path`, the built one, or PATH), else node-llama-cpp. */
        readonly type: "auto" | "node-llama-cpp" | "llama-server";
        readonly gpu: "auto" | false;
        readonly path: string | null;
        /** node-llama-cpp only: `auto` runs its local build when one exists, `prebuilt` always the prebuilt binaries. */
        readonly build: "auto" | "prebuilt";
        /** llama-server only: how long a child may leave its health probe unanswered before it is replaced, in ms (`loadConfig` always sets it; the engine's default, 15 s, otherwise). */
        readonly watchdogTimeoutMs?: number;
    };
    readonly modelDefaults: ModelLoadOptions;
    readonly models: readonly ConfiguredModel[];
    /** Upstream pools (`upstreams:`), API keys resolved from the environment. */
    readonly upstreams: readonly UpstreamPoolConfig[];
}
