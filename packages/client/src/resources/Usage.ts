import type { QuandexClient } from "../client.js";
import type { RequestOptions } from "../core/RequestOptions.js";

/**
 * GET /v1/usage's answer. The limits issue has not given it a schema in @quandex/protocol yet, so
 * it is typed loosely; once the schema lands this becomes `import type { UsageResponse }`.
 */
export type UsageReport = Record<string, unknown>;

/** /v1/usage: the calling key's request counts and limits. */
export class Usage {
    readonly #client: QuandexClient;

    constructor(client: QuandexClient) {
        this.#client = client;
    }

    retrieve(options?: RequestOptions): Promise<UsageReport> {
        return this.#client.request<UsageReport>("GET", "/usage", {}, options);
    }
}
