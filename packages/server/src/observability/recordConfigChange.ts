import type { ServerConfig } from "../config/ServerConfig.js";
import type { AuditEntry, AuditLog } from "../storage/AuditLog.js";

/** Settings that may hold a secret (a token, a password in a URL): the audit log says only whether they are set. */
const secretKeys = new Set<keyof ServerConfig>(["hfToken", "redisUrl"]);

/** The configuration as the audit log keeps it: every setting, secrets replaced by whether they are set. */
export function auditedConfig(config: ServerConfig): Record<string, unknown> {
    const snapshot: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(config)) {
        snapshot[key] = secretKeys.has(key as keyof ServerConfig) ? (value === null ? null : "(set)") : value;
    }
    // An upstream endpoint's API key: whether it is set, never the key.
    if (config.upstreams)
        snapshot.upstreams = config.upstreams.map((pool) => ({ ...pool, endpoints: pool.endpoints.map((e) => ({ ...e, apiKey: e.apiKey === null ? null : "(set)" })) }));
    // Canonical JSON round trip: what is compared is what is stored.
    return JSON.parse(JSON.stringify(snapshot)) as Record<string, unknown>;
}

/**
 * Configuration changes reach Quandex as a restart with another file, flags or environment, so
 * they are audited at boot: when the configuration differs from the one the last `config.changed`
 * entry recorded (or none was recorded yet), a new entry names the settings that changed and keeps
 * the whole (secret-free) configuration for the next comparison. Returns the entry, if any.
 */
export async function recordConfigChange(audit: AuditLog, config: ServerConfig): Promise<AuditEntry | undefined> {
    const current = auditedConfig(config);
    const previous = (await audit.latest("config.changed"))?.detail.config as Record<string, unknown> | undefined;
    const keys = [...new Set([...Object.keys(current), ...Object.keys(previous ?? {})])];
    const changed = keys.filter((key) => JSON.stringify(current[key]) !== JSON.stringify(previous?.[key]));
    if (previous !== undefined && changed.length === 0) return undefined;
    return audit.record({
        action: "config.changed",
        actor: "config",
        actorName: config.configPath,
        target: config.configPath,
        requestId: null,
        ip: null,
        detail: { changed: previous === undefined ? ["(first boot with an audit log)"] : changed, config: current }
    });
}
