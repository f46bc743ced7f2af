import { hash, randomBytes } from "node:crypto";

export const keyPrefix = "qdx_";

/** 32 random bytes: 256 bits, so a plain SHA-256 (no salt, no KDF) is a safe, fast index. */
export function newSecret(): string {
    return keyPrefix + randomBytes(32).toString("base64url");
}

export function newKeyId(): string {
    return "key_" + randomBytes(9).toString("base64url");
}

/** One-shot `crypto.hash`: a third of `createHash().update().digest()`'s cost, on every request. */
export function hashSecret(secret: string): string {
    return hash("sha256", secret, "hex");
}
