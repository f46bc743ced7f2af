import { parseKeepAlive, QuandexError } from "@quandex/protocol";

/**
 * A request's `keep_alive` (Ollama's syntax, accepted by every dialect) in ms, `null` for
 * "forever", or `undefined` when the request does not set it.
 * @throws QuandexError `invalid_parameter` naming `keep_alive`.
 */
export function keepAliveParam(value: string | number | null | undefined): number | null | undefined {
    if (value === undefined || value === null) return undefined;
    try {
        return parseKeepAlive(value);
    } catch (error) {
        throw new QuandexError("invalid_parameter", { param: "keep_alive", detail: `${(error as Error).message}.` }, { param: "keep_alive" });
    }
}
