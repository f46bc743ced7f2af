import type { ApiKey, CreateKeyRequest, RotateKeyRequest } from "@quandex/protocol";
import type { QuandexClient } from "../client.js";
import type { RequestOptions } from "../core/RequestOptions.js";

/** A key as create and rotate answer it: the record plus its secret, shown this once. */
export type CreatedApiKey = ApiKey & { key: string };

/**
 * /v1/admin/keys (scope `admin`). Create and rotate are not retried unless `maxRetries` says so:
 * a lost answer to a retried create leaves a key whose secret nobody saw, and a second rotation ends
 * the grace of the secret clients still use.
 */
export class Keys {
    readonly #client: QuandexClient;

    constructor(client: QuandexClient) {
        this.#client = client;
    }

    async list(options?: RequestOptions): Promise<ApiKey[]> {
        return (await this.#client.request<{ object: "list"; data: ApiKey[] }>("GET", "/admin/keys", {}, options)).data;
    }

    /** `expires_at` (ISO 8601) makes the key stop working by itself. */
    create(params: CreateKeyRequest, options?: RequestOptions): Promise<CreatedApiKey> {
        return this.#client.request<CreatedApiKey>("POST", "/admin/keys", { body: params }, { maxRetries: 0, ...options });
    }

    /** A new secret; the old one keeps working for `grace_seconds` (the server's default: 3600; 0 ends it at once). */
    rotate(id: string, params: RotateKeyRequest = {}, options?: RequestOptions): Promise<CreatedApiKey> {
        return this.#client.request<CreatedApiKey>("POST", `/admin/keys/${encodeURIComponent(id)}/rotate`, { body: params }, { maxRetries: 0, ...options });
    }

    /** The key stops working at once. */
    revoke(id: string, options?: RequestOptions): Promise<ApiKey> {
        return this.#client.request<ApiKey>("DELETE", `/admin/keys/${encodeURIComponent(id)}`, {}, options);
    }
}
