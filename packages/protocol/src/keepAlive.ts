import { Type } from "@sinclair/typebox";

/** A Go-style duration (`5m`, `1h30m`, `300ms`), a number of seconds, or either negative for "forever". */
const durationPattern = "^-?(?:(?:\\d+(?:\\.\\d+)?(?:ns|us|µs|ms|s|m|h))+|\\d+(?:\\.\\d+)?)$";

/**
 * `keep_alive`, as Ollama spells it: how long a model stays loaded once idle. A duration string
 * (`"5m"`, `"1h"`, `"30s"`, `"0"`), or a number of seconds; negative keeps it loaded forever, `0`
 * unloads it as soon as the request ends.
 */
export const KeepAliveSchema = Type.Union([Type.String({ pattern: durationPattern, maxLength: 64 }), Type.Number({ minimum: -1e12, maximum: 1e12 })], {
    description:
        'How long the model stays loaded after this request: "5m", "1h", "30s", seconds as a number, 0 to unload at once, negative to keep it loaded. Defaults to the model\'s keep_alive.'
});

const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A keep-alive in milliseconds, or `null` for "forever" (any negative value).
 * @throws Error naming the value when it is neither a duration nor a number.
 */
export function parseKeepAlive(value: string | number): number | null {
    if (typeof value === "number") {
        if (!Number.isFinite(value)) throw new Error(`'${value}' is not a keep-alive`);
        return value < 0 ? null : Math.round(value * 1000);
    }
    const text = value.trim();
    if (!new RegExp(durationPattern).test(text)) throw new Error(`'${value}' is not a duration such as "5m", "30s" or "-1"`);
    const negative = text.startsWith("-");
    const body = negative ? text.slice(1) : text;
    let ms: number;
    if (/^\d+(?:\.\d+)?$/.test(body)) {
        ms = Number(body) * 1000;
    } else {
        ms = 0;
        for (const [, amount, unit] of body.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(amount) * unitMs[unit!]!;
    }
    if (negative && ms > 0) return null;
    return Math.round(ms);
}
