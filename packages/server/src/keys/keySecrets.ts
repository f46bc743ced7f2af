import crypto, { createHash, randomBytes } from "node:crypto";

export const keyPrefix = "qdx_";

/** 32 random bytes: 256 bits, so a plain SHA-256 (no salt, no KDF) is a safe, fast index. */
export function newSecret(): string {
    return keyPrefix + randomBytes(32).toString("base64url");
}

export function newKeyId(): string {
    return "key_" + randomBytes(9).toString("base64url");
}

/**
 * One-shot `crypto.hash` costs a third of `createHash().update().digest()`, on every authenticated
 * request; Node before 20.12 lacks it (read off the default export: a named import would fail to link there).
 */
export const hashSecret: (secret: string) => string =
    typeof crypto.hash === "function" ? (secret) => crypto.hash("sha256", secret, "hex") : (secret) => createHash("sha256").update(secret).digest("hex");
