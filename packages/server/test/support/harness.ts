import { mkdtempSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { parseServerSentEvents } from "@quandex/protocol/sse";
import { InferenceService, ModelPuller, ModelRegistry, Scheduler, type ConfiguredModel, type Engine, type ModelLoadOptions } from "@quandex/engine";
import { buildApp } from "../../src/http/buildApp.js";
import type { ServerConfig } from "../../src/config/ServerConfig.js";
import { Lifecycle } from "../../src/http/Lifecycle.js";
import { openDatabase } from "../../src/storage/openDatabase.js";
import { SqliteKeyStore } from "../../src/keys/SqliteKeyStore.js";
import { LimitsGate } from "../../src/http/access/LimitsGate.js";
import { MemoryAuthFailureLimiter } from "../../src/limits/MemoryAuthFailureLimiter.js";
import { MemoryLimitStore } from "../../src/limits/MemoryLimitStore.js";

export interface Harness {
    app: FastifyInstance;
    engine: Engine;
    service: InferenceService;
    /** The service's scheduler, for tests that hold sequences or read the queue directly. */
    scheduler: Scheduler;
    lifecycle: Lifecycle;
    /** Unlimited keys, so tests measure behaviour, not 429s; `limited` has the default limits. */
    keys: { admin: string; generate: string; read: string; limited: string };
    limitStore: MemoryLimitStore;
    authFailures: MemoryAuthFailureLimiter;
    store: SqliteKeyStore;
    dataDir: string;
    modelsDir: string;
    maxQueue: number;
    /** Base URL once `listen()` ran. */
    url: string;
    listen(): Promise<string>;
    close(): Promise<void>;
}

export interface HarnessOptions {
    engine: Engine;
    /** Files to place in the models dir, by file name → source path (symlinked). */
    files?: Record<string, string>;
    configured?: ConfiguredModel[];
    defaults?: Partial<ModelLoadOptions>;
    maxQueue?: number;
    queueTimeoutMs?: number;
    keepAliveMs?: number;
    corsOrigins?: string[];
    /** `server.request_limits` and `server.tls` as `loadConfig` resolves them. */
    requestLimits?: ServerConfig["requestLimits"];
    tls?: ServerConfig["tls"];
    sysRoot?: string;
    /** The web console's built files; defaults to the installed `@quandex/console` build. */
    consoleDir?: string;
    /** Clock for the limit stores (ms since the epoch). */
    clock?: () => number;
    daily?: number | null;
    authFailuresPerMinute?: number;
    /** A Hugging Face-layout server to pull from; without it the harness has no puller. */
    hfEndpoint?: string;
    /** The memory budget of loaded models, in bytes. Defaults to none. */
    memoryBudgetBytes?: number;
    /** The default keep-alive of idle models, in ms (`null` forever). Defaults to forever, so tests see what they loaded. */
    defaultKeepAliveMs?: number | null;
}

/** Builds the real app (real SQLite keys, real scheduler) around the given engine. */
export async function createHarness(options: HarnessOptions): Promise<Harness> {
    const root = mkdtempSync(path.join(os.tmpdir(), "qdx-test-"));
    const modelsDir = path.join(root, "models");
    const dataDir = path.join(root, "data");
    (await import("node:fs")).mkdirSync(modelsDir);
    for (const [name, source] of Object.entries(options.files ?? {})) symlinkSync(source, path.join(modelsDir, name));
    const db = openDatabase(dataDir);
    const store = new SqliteKeyStore(db);
    const unlimited = { unlimited: true };
    const keys = {
        admin: (await store.create({ name: "admin", scopes: ["generate", "read", "admin"], limits: unlimited })).secret,
        generate: (await store.create({ name: "gen", scopes: ["generate", "read"], limits: unlimited })).secret,
        read: (await store.create({ name: "reader", scopes: ["read"], limits: unlimited })).secret,
        limited: (await store.create({ name: "limited", scopes: ["generate", "read"] })).secret
    };
    const limitStore = new MemoryLimitStore({ db, ...(options.clock && { clock: options.clock }) });
    const authFailures = new MemoryAuthFailureLimiter({ maxFailures: options.authFailuresPerMinute ?? 30, ...(options.clock && { clock: options.clock }) });
    const limits = new LimitsGate(limitStore, { rps: 10, burst: 20, daily: options.daily ?? 1000, unlimited: false }, { warn() {}, info() {} });
    const registry = new ModelRegistry({
        modelsDir,
        configured: options.configured ?? [],
        defaults: { contextSize: 256, parallel: 2, gpu: "auto", threads: 1, ...options.defaults }
    });
    const scheduler = new Scheduler({
        engine: options.engine,
        maxQueue: options.maxQueue ?? 64,
        queueTimeoutMs: options.queueTimeoutMs ?? 30_000,
        ...(options.memoryBudgetBytes !== undefined && { memoryBudgetBytes: options.memoryBudgetBytes }),
        defaultKeepAliveMs: options.defaultKeepAliveMs === undefined ? null : options.defaultKeepAliveMs
    });
    const puller = options.hfEndpoint === undefined ? undefined : new ModelPuller({ modelsDir, hfEndpoint: options.hfEndpoint, onPlaced: () => registry.refresh() });
    const service = new InferenceService(registry, scheduler, undefined, puller);
    const lifecycle = new Lifecycle();
    lifecycle.ready = true;
    const app = await buildApp({
        config: {
            maxQueue: options.maxQueue ?? 64,
            keepAliveMs: options.keepAliveMs ?? 15_000,
            corsOrigins: options.corsOrigins ?? [],
            ...(options.requestLimits && { requestLimits: options.requestLimits }),
            ...(options.tls && { tls: options.tls }),
            trustProxy: false,
            defaultScopes: ["generate", "read"]
        },
        service,
        engine: options.engine,
        keys: store,
        lifecycle,
        limits,
        authFailures,
        usage: limitStore,
        sysRoot: options.sysRoot ?? path.join(root, "no-sys"),
        ...(options.consoleDir !== undefined && { consoleDir: options.consoleDir })
    });
    const harness: Harness = {
        app,
        engine: options.engine,
        service,
        scheduler,
        lifecycle,
        keys,
        store,
        limitStore,
        authFailures,
        dataDir,
        modelsDir,
        maxQueue: options.maxQueue ?? 64,
        url: "",
        async listen() {
            harness.url = await app.listen({ host: "127.0.0.1", port: 0 });
            return harness.url;
        },
        async close() {
            await app.close();
            await puller?.close();
            await scheduler.dispose();
            registry.dispose();
            await authFailures.dispose();
            await limitStore.dispose();
            db.close();
        }
    };
    return harness;
}

export const auth = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

/**
 * Reads an SSE body into its events, through the project's one decoder: `{event, data}` with data
 * parsed as JSON where it is JSON, and each comment (`: ping`) as `{event: "comment", comment: true}`
 * in its place, for the tests about keep-alives.
 */
export function parseSse(body: string): Array<{ event: string; data: unknown; comment?: boolean }> {
    const events: Array<{ event: string; data: unknown; comment?: boolean }> = [];
    for (const block of body.split("\n\n")) {
        if (block.trim() === "") continue;
        if (block.startsWith(":")) {
            events.push({ event: "comment", data: block.slice(1).trim(), comment: true });
            continue;
        }
        for (const { event, data } of parseServerSentEvents(`${block}\n\n`)) {
            let parsed: unknown = data;
            try {
                parsed = JSON.parse(data);
            } catch {
                // [DONE] and other plain data stay strings.
            }
            events.push({ event, data: parsed });
        }
    }
    return events;
}
