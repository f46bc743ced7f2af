import { mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { InferenceService, ModelRegistry, Scheduler, type Engine } from "@quandex/engine";
import { buildApp } from "../../src/http/buildApp.js";
import { Lifecycle } from "../../src/http/Lifecycle.js";
import { LimitsGate } from "../../src/http/access/LimitsGate.js";
import { SqliteKeyStore } from "../../src/keys/SqliteKeyStore.js";
import { MemoryAuthFailureLimiter } from "../../src/limits/MemoryAuthFailureLimiter.js";
import { MemoryLimitStore } from "../../src/limits/MemoryLimitStore.js";
import { openDatabase } from "../../src/storage/openDatabase.js";
import { SqliteAuditLog } from "../../src/storage/SqliteAuditLog.js";

export interface ObsApp {
    app: FastifyInstance;
    service: InferenceService;
    keys: { admin: string; generate: string; read: string; metrics: string; limited: string; limitedId: string; generateId: string; adminId: string };
    /** Every JSON line the app's logger wrote. */
    lines: Array<Record<string, unknown>>;
    dataDir: string;
    close(): Promise<void>;
}

export interface ObsAppOptions {
    engine: Engine;
    /** File name → source path in the models dir. */
    files: Record<string, string>;
    metrics?: { enabled: boolean; auth: "key" | "none" };
    logPrompts?: boolean;
    /** Reuse a data dir (a restart). */
    dataDir?: string;
    daily?: number;
}

/**
 * The real app (real SQLite keys and audit log, real scheduler) around a fake engine, with its
 * logger captured line by line, so tests read what an operator's log collector would.
 */
export async function createObsApp(options: ObsAppOptions): Promise<ObsApp> {
    const root = mkdtempSync(path.join(os.tmpdir(), "qdx-obs-"));
    const modelsDir = path.join(root, "models");
    mkdirSync(modelsDir);
    for (const [name, source] of Object.entries(options.files)) symlinkSync(source, path.join(modelsDir, name));
    const dataDir = options.dataDir ?? path.join(root, "data");
    const db = openDatabase(dataDir);
    const store = new SqliteKeyStore(db);
    const unlimited = { unlimited: true };
    const admin = await store.create({ name: "admin", scopes: ["generate", "read", "admin"], limits: unlimited });
    const generate = await store.create({ name: "gen", scopes: ["generate", "read"], limits: unlimited });
    const limited = await store.create({ name: "limited", scopes: ["generate", "read"], limits: { rps: 1, burst: 2 } });
    const keys = {
        admin: admin.secret,
        adminId: admin.record.id,
        generate: generate.secret,
        generateId: generate.record.id,
        read: (await store.create({ name: "reader", scopes: ["read"], limits: unlimited })).secret,
        metrics: (await store.create({ name: "scraper", scopes: ["metrics"], limits: unlimited })).secret,
        limited: limited.secret,
        limitedId: limited.record.id
    };
    const limitStore = new MemoryLimitStore({ db });
    const authFailures = new MemoryAuthFailureLimiter({ maxFailures: 1000 });
    const limits = new LimitsGate(limitStore, { rps: 10, burst: 20, daily: options.daily ?? 1000, unlimited: false }, { warn() {}, info() {} });
    const registry = new ModelRegistry({ modelsDir, configured: [], defaults: { contextSize: 256, parallel: 2, gpu: "auto", threads: 1 } });
    const scheduler = new Scheduler({ engine: options.engine, maxQueue: 64, queueTimeoutMs: 30_000, defaultKeepAliveMs: null });
    const service = new InferenceService(registry, scheduler);
    const lifecycle = new Lifecycle();
    lifecycle.ready = true;
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
            for (const text of chunk.toString("utf8").split("\n")) if (text.trim() !== "") lines.push(JSON.parse(text) as Record<string, unknown>);
            done();
        }
    });
    const app = await buildApp({
        config: {
            maxQueue: 64,
            keepAliveMs: 15_000,
            corsOrigins: [],
            trustProxy: false,
            defaultScopes: ["generate", "read"],
            metrics: options.metrics ?? { enabled: true, auth: "key" },
            logPrompts: options.logPrompts ?? false
        },
        service,
        engine: options.engine,
        keys: store,
        lifecycle,
        limits,
        authFailures,
        usage: limitStore,
        audit: new SqliteAuditLog(db),
        logger: pino({ level: "info" }, sink),
        sysRoot: path.join(root, "no-sys")
    });
    return {
        app,
        service,
        keys,
        lines,
        dataDir,
        async close() {
            await app.close();
            await scheduler.dispose();
            registry.dispose();
            await authFailures.dispose();
            await limitStore.dispose();
            await options.engine.dispose();
            db.close();
        }
    };
}

export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

/** Prometheus text → samples by `name{labels}` (labels as written, sorted by the exporter). */
export function parseExposition(text: string): Map<string, number> {
    const samples = new Map<string, number>();
    for (const line of text.split("\n")) {
        if (line === "" || line.startsWith("#")) continue;
        const space = line.lastIndexOf(" ");
        samples.set(line.slice(0, space), Number(line.slice(space + 1)));
    }
    return samples;
}
