import type { ApiKey } from "@quandex/protocol";
import type { ApiKeyRecord } from "./ApiKey.js";

/** The wire and CLI form of a key: snake_case, never the secret. */
export function apiKeyJson(record: ApiKeyRecord): ApiKey {
    return {
        id: record.id,
        name: record.name,
        prefix: record.prefix,
        scopes: record.scopes,
        created_at: record.createdAt,
        revoked_at: record.revokedAt,
        rps: record.limits.rps,
        burst: record.limits.burst,
        daily: record.limits.daily,
        unlimited: record.limits.unlimited,
        expires_at: record.expiresAt,
        last_used_at: record.lastUsedAt,
        previous_key_expires_at: record.previousSecretExpiresAt
    };
}
