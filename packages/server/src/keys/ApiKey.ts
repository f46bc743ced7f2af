import type { Scope } from "../config/ConfigFileSchema.js";

export const allScopes: readonly Scope[] = ["generate", "read", "admin", "metrics"];

/** Per-key limit overrides as stored; null means "use the server default". */
export interface StoredKeyLimits {
    rps: number | null;
    burst: number | null;
    daily: number | null;
    unlimited: boolean;
}

/** A stored key, without its secret (only a hash of it is ever stored). */
export interface ApiKeyRecord {
    id: string;
    name: string;
    /** The first characters of the secret, to tell keys apart in listings. */
    prefix: string;
    scopes: Scope[];
    createdAt: string;
    revokedAt: string | null;
    limits: StoredKeyLimits;
    /** When the key stops working by itself (ISO 8601), or `null` for never. */
    expiresAt: string | null;
    /** When it last authenticated a request, to the minute ({@link lastUsedResolutionMs}); `null` if never. */
    lastUsedAt: string | null;
    /** After a rotation: until when the secret it replaced still works; `null` when none does. */
    previousSecretExpiresAt: string | null;
}

/** `last_used_at` is written at most once a minute per key: a write per request would cost more than the request. */
export const lastUsedResolutionMs = 60_000;

/** How long a rotated key's old secret keeps working unless the rotation says otherwise: clients have an hour to switch. */
export const defaultRotationGraceMs = 3_600_000;

/** The longest grace a rotation may give the old secret: a week. */
export const maxRotationGraceMs = 7 * 86_400_000;

export interface CreateKeyInput {
    name: string;
    scopes: readonly Scope[];
    limits?: Partial<StoredKeyLimits>;
    /** ISO 8601; `null` or absent for never. */
    expiresAt?: string | null;
}

export interface KeyPatch {
    name?: string;
    scopes?: readonly Scope[];
    limits?: Partial<StoredKeyLimits>;
    /** ISO 8601, or `null` to make the key never expire. */
    expiresAt?: string | null;
}

/** Where keys live: SQLite in the data dir, or Redis when replicas share state. */
export interface KeyStore {
    /** Returns the record and the secret, which is shown once and never stored. */
    create(input: CreateKeyInput): Promise<{ record: ApiKeyRecord; secret: string }>;
    list(): Promise<ApiKeyRecord[]>;
    get(id: string): Promise<ApiKeyRecord | undefined>;
    update(id: string, patch: KeyPatch): Promise<ApiKeyRecord | undefined>;
    /** Returns false when no such key exists. Revoking twice is harmless. */
    revoke(id: string): Promise<boolean>;
    /**
     * Gives the key a new secret (returned once, like `create`'s); the one it replaces keeps working
     * for `graceMs` (0: not at all), so clients can switch without an outage. Rotating again ends the
     * earlier secret's grace at once: only one old secret works at a time. `undefined` when no live
     * key has this id.
     */
    rotate(id: string, graceMs: number): Promise<{ record: ApiKeyRecord; secret: string } | undefined>;
    /**
     * The live key with this secret: not revoked, not expired, and either its current secret or the
     * one it replaced while that one's grace lasts. Records that it was used (to the minute).
     */
    authenticate(secret: string): Promise<ApiKeyRecord | undefined>;
    dispose(): Promise<void>;
}
