import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import type { Scope } from "../../config/ConfigFileSchema.js";
import { loadConfig } from "../../config/loadConfig.js";
import { allScopes, type KeyStore, type StoredKeyLimits } from "../../keys/ApiKey.js";
import { RedisKeyStore } from "../../keys/RedisKeyStore.js";
import { apiKeyJson } from "../../keys/apiKeyJson.js";
import { openDatabase } from "../../storage/openDatabase.js";
import { SqliteKeyStore } from "../../keys/SqliteKeyStore.js";
import os from "node:os";
import type { AuditLog } from "../../storage/AuditLog.js";
import { RedisAuditLog } from "../../storage/RedisAuditLog.js";
import { SqliteAuditLog } from "../../storage/SqliteAuditLog.js";

interface KeyFlags {
    dataDir?: string;
    redisUrl?: string;
    config?: string;
    json?: boolean;
    name?: string;
    scopes?: Scope[];
    rps?: number;
    burst?: number;
    daily?: number;
    unlimited?: boolean;
}

export function register(program: Command): void {
    const keys = program.command("keys").description("Create, list, update and revoke API keys (stored hashed in the data dir)");

    withLimitOptions(withStoreOptions(keys.command("create").description("Create a key and print it once")))
        .requiredOption("--name <name>", "a label for the key")
        .option("--scopes <list>", `comma-separated: ${allScopes.join(", ")} (default: the config's default scopes, generate,read)`, parseScopes)
        .action(async (flags: KeyFlags) =>
            withStore(flags, async (store, config, audit) => {
                const { record, secret } = await store.create({ name: flags.name!, scopes: flags.scopes ?? config.defaultScopes, limits: limitFlags(flags) });
                await audit("key.created", record.id, { name: record.name, scopes: record.scopes, ...limitFlags(flags) });
                if (flags.json) print({ ...apiKeyJson(record), key: secret });
                else {
                    print(`Created key ${record.id} (${record.name}) with scopes ${record.scopes.join(",")}.`);
                    print(`Key: ${secret}`);
                    print("Store it now: it is kept only as a hash and cannot be shown again.");
                }
            })
        );

    withStoreOptions(keys.command("list").description("List keys (never their secrets)")).action(async (flags: KeyFlags) =>
        withStore(flags, async (store) => {
            const records = await store.list();
            if (flags.json) return print(records.map(apiKeyJson));
            if (records.length === 0) return print("No keys. Create one with: quandex keys create --name NAME");
            const rows = records.map((r) => [r.id, r.name, r.prefix + "…", r.scopes.join(","), r.revokedAt ? `revoked ${r.revokedAt}` : "active", r.createdAt]);
            printTable(["ID", "NAME", "PREFIX", "SCOPES", "STATUS", "CREATED"], rows);
        })
    );

    withLimitOptions(withStoreOptions(keys.command("update").description("Change a key's name, scopes or limits").argument("<id>")))
        .option("--name <name>", "a new label")
        .option("--scopes <list>", "comma-separated scopes", parseScopes)
        .option("--limited", "undo --unlimited")
        .action(async (id: string, flags: KeyFlags & { limited?: boolean }) =>
            withStore(flags, async (store, _config, audit) => {
                const limits = limitFlags(flags);
                if (flags.limited) limits.unlimited = false;
                const record = await store.update(id, { name: flags.name, scopes: flags.scopes, limits });
                if (!record) throw new Error(`no key with id '${id}'`);
                await audit("key.updated", id, { ...(flags.name !== undefined && { name: flags.name }), ...(flags.scopes !== undefined && { scopes: flags.scopes }), ...limits });
                print(flags.json ? apiKeyJson(record) : `Updated key ${record.id}.`);
            })
        );

    withStoreOptions(keys.command("revoke").description("Revoke a key; it stops working at once").argument("<id>")).action(async (id: string, flags: KeyFlags) =>
        withStore(flags, async (store, _config, audit) => {
            if (!(await store.revoke(id))) throw new Error(`no key with id '${id}'`);
            await audit("key.revoked", id, {});
            print(flags.json ? { id, revoked: true } : `Revoked key ${id}.`);
        })
    );
}

function withStoreOptions(command: Command): Command {
    return command
        .option("--data-dir <dir>", "directory of the key database (env QUANDEX_DATA_DIR; default ~/.quandex/data)")
        .option("--config <file>", "config file (env QUANDEX_CONFIG), for its data_dir and default scopes")
        .option("--redis-url <url>", "manage the keys shared by replicas in Redis (env QUANDEX_REDIS_URL)")
        .option("--json", "print JSON");
}

function withLimitOptions(command: Command): Command {
    return command
        .option("--rps <n>", "sustained requests per second for this key (default: server.limits.default_rps, 10)", parsePositive)
        .option("--burst <n>", "bucket capacity for this key (default: server.limits.default_burst, 20)", parsePositiveInt)
        .option("--daily <n>", "inference requests per UTC day for this key (default: server.limits.default_daily, 1000)", parsePositiveInt)
        .option("--unlimited", "no rate limit and no daily quota (trusted internal keys)");
}

/** Records a key change made from the CLI in the audit log, as `cli` and the OS user who ran it. */
type AuditCli = (action: string, target: string, detail: Record<string, unknown>) => Promise<void>;

function auditFrom(log: AuditLog): AuditCli {
    let user: string | null = null;
    try {
        user = os.userInfo().username;
    } catch {
        // No passwd entry (some containers): the entry still says it came from the CLI.
    }
    return async (action, target, detail) => {
        await log.record({ action, actor: "cli", actorName: user, target, requestId: null, ip: null, detail });
    };
}

async function withStore(flags: KeyFlags, run: (store: KeyStore, config: ReturnType<typeof loadConfig>, audit: AuditCli) => Promise<void>): Promise<void> {
    const config = loadConfig({ flags: { dataDir: flags.dataDir, config: flags.config, redisUrl: flags.redisUrl } });
    if (config.redisUrl) {
        const store = await RedisKeyStore.connect(config.redisUrl);
        try {
            const audit = await RedisAuditLog.connect(config.redisUrl);
            try {
                await run(store, config, auditFrom(audit));
            } finally {
                await audit.dispose();
            }
        } finally {
            await store.dispose();
        }
        return;
    }
    const db = openDatabase(config.dataDir);
    try {
        await run(new SqliteKeyStore(db), config, auditFrom(new SqliteAuditLog(db)));
    } finally {
        db.close();
    }
}

function limitFlags(flags: KeyFlags): Partial<StoredKeyLimits> {
    return {
        ...(flags.rps !== undefined && { rps: flags.rps }),
        ...(flags.burst !== undefined && { burst: flags.burst }),
        ...(flags.daily !== undefined && { daily: flags.daily }),
        ...(flags.unlimited && { unlimited: true })
    };
}

function parseScopes(value: string): Scope[] {
    const scopes = value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    for (const scope of scopes) {
        if (!(allScopes as readonly string[]).includes(scope)) throw new InvalidArgumentError(`unknown scope '${scope}' (use ${allScopes.join(", ")})`);
    }
    if (scopes.length === 0) throw new InvalidArgumentError("give at least one scope");
    return scopes as Scope[];
}

function parsePositive(value: string): number {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a positive number");
    return n;
}

function parsePositiveInt(value: string): number {
    const n = parsePositive(value);
    if (!Number.isInteger(n)) throw new InvalidArgumentError("must be a whole number");
    return n;
}

function print(value: unknown): void {
    process.stdout.write(typeof value === "string" ? `${value}\n` : `${JSON.stringify(value, null, 2)}\n`);
}

function printTable(header: string[], rows: string[][]): void {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    for (const row of [header, ...rows])
        print(
            row
                .map((cell, i) => cell.padEnd(widths[i]!))
                .join("  ")
                .trimEnd()
        );
}
