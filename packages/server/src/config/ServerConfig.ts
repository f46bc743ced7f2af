import type { ConfiguredModel, ModelLoadOptions } from "@quandex/engine";
import type { Scope } from "./ConfigFileSchema.js";

/** The validated, frozen configuration. Produced only by `loadConfig`; nothing else reads env or files. */
export interface ServerConfig {
    readonly host: string;
    readonly port: number;
    readonly modelsDir: string;
    readonly dataDir: string;
    readonly configPath: string | null;
    readonly logLevel: string;
    /** Requests that may wait for a sequence, across models. */
    readonly maxQueue: number;
    /** Longest wait for a sequence (or a load the request started), in ms. */
    readonly requestTimeoutMs: number;
    /** How long shutdown lets in-flight requests finish, in ms. */
    readonly shutdownGraceMs: number;
    /** Interval of SSE keep-alive comments, in ms. */
    readonly keepAliveMs: number;
    readonly corsOrigins: readonly string[];
    readonly trustProxy: boolean | string | readonly string[];
    readonly defaultScopes: readonly Scope[];
    readonly limits: {
        readonly defaultRps: number;
        readonly defaultBurst: number;
        readonly defaultDaily: number | null;
        readonly authFailuresPerMinute: number;
        readonly failOpen: boolean;
    };
    readonly redisUrl: string | null;
    /** `path` is the llama-server binary (type `llama-server` only; null for node-llama-cpp). */
    readonly engine: {
        readonly type: "node-llama-cpp" | "llama-server";
        readonly gpu: "auto" | false;
        readonly path: string | null;
        /** node-llama-cpp only: `auto` runs its local build when one exists, `prebuilt` always the prebuilt binaries. */
        readonly build: "auto" | "prebuilt";
    };
    readonly modelDefaults: ModelLoadOptions;
    readonly models: readonly ConfiguredModel[];
}
