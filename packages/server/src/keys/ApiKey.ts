import type { Scope } from "../config/ConfigFileSchema.js";

export const allScopes: readonly Scope[] = ["generate", "read", "admin"];

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
}

export interface CreateKeyInput {
    name: string;
    scopes: readonly Scope[];
    limits?: Partial<StoredKeyLimits>;
}

export interface KeyPatch {
    name?: string;
    scopes?: readonly Scope[];
    limits?: Partial<StoredKeyLimits>;
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
    /** The live (not revoked) key with this secret. */
    authenticate(secret: string): Promise<ApiKeyRecord | undefined>;
    dispose(): Promise<void>;
}
