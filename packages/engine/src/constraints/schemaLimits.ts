import { QuandexError } from "@quandex/protocol";

/**
 * How large a JSON schema a client may send for a grammar. A grammar's size follows the schema's,
 * and constrained sampling checks every candidate token against it: an audit measured a 50,000-value
 * `enum` (490 KB) blocking the server for 13 s, and here it decodes 10 tokens in 97 s. Past these
 * limits a schema is refused with 400 `schema_too_complex` before anything compiles it.
 */
export interface SchemaLimits {
    /** Nesting of objects and arrays in the schema's JSON (the root is level 1). */
    readonly maxDepth: number;
    /** `enum` values and `const`s, summed over the whole schema. */
    readonly maxEnumValues: number;
    /** Entries of every `properties` (and `$defs`), summed over the whole schema. */
    readonly maxProperties: number;
    /** Characters of the schema's compact JSON text. */
    readonly maxBytes: number;
}

/**
 * The defaults (`server.request_limits.schema_*`). OpenAI's structured outputs allow 5 levels,
 * 1,000 enum values and 5,000 properties; a depth of 32 covers real tool and response schemas,
 * and 1,000 values compile in milliseconds and slow sampling by tens of ms per token at most.
 */
export const defaultSchemaLimits: SchemaLimits = Object.freeze({ maxDepth: 32, maxEnumValues: 1000, maxProperties: 1000, maxBytes: 65_536 });

/**
 * Measures a schema without recursion (an explicit stack), so a schema nested 5,000 levels is
 * refused instead of overflowing the call stack, and stops at the first limit passed.
 * @throws QuandexError `schema_too_complex` naming the limit.
 */
export function checkSchemaLimits(schema: unknown, limits: SchemaLimits = defaultSchemaLimits, param = "response_format"): void {
    const stack: Array<{ value: unknown; depth: number }> = [{ value: schema, depth: 1 }];
    let enumValues = 0;
    let properties = 0;
    let bytes = 0;
    const refuse = (detail: string): QuandexError => new QuandexError("schema_too_complex", { param, detail }, { param });
    while (stack.length > 0) {
        const { value, depth } = stack.pop()!;
        if (value === null || typeof value !== "object") {
            bytes += typeof value === "string" ? JSON.stringify(value).length : String(value).length;
        } else {
            if (depth > limits.maxDepth) throw refuse(`it nests deeper than the ${limits.maxDepth} levels allowed.`);
            const entries = Array.isArray(value) ? value.map((item) => ["", item] as const) : Object.entries(value);
            bytes += 2 + Math.max(0, entries.length - 1);
            for (const [key, child] of entries) {
                if (!Array.isArray(value)) {
                    bytes += JSON.stringify(key).length + 1;
                    if (key === "properties" || key === "$defs") {
                        if (child !== null && typeof child === "object" && !Array.isArray(child)) properties += Object.keys(child).length;
                    } else if (key === "enum" && Array.isArray(child)) enumValues += child.length;
                    else if (key === "const") enumValues += 1;
                }
                stack.push({ value: child, depth: depth + 1 });
            }
        }
        if (bytes > limits.maxBytes) throw refuse(`its JSON is longer than the ${limits.maxBytes} characters allowed.`);
        if (enumValues > limits.maxEnumValues) throw refuse(`it lists more than the ${limits.maxEnumValues} enum and const values allowed in all.`);
        if (properties > limits.maxProperties) throw refuse(`it declares more than the ${limits.maxProperties} properties allowed in all.`);
    }
}
