import { QuandexError } from "@quandex/protocol";
import { checkSchemaLimits, defaultSchemaLimits, type SchemaLimits } from "./schemaLimits.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = { [key: string]: Json };

/** Keywords with no effect on validity; dropped before the grammar is built. */
const annotations = new Set(["title", "description", "$schema", "$id", "$comment", "default", "examples", "deprecated", "readOnly", "writeOnly"]);
const common = new Set(["type", "enum", "const", "oneOf", "anyOf", "$ref", "$defs"]);
const byType: Record<string, ReadonlySet<string>> = {
    string: new Set(["minLength", "maxLength", "format"]),
    object: new Set(["properties", "required", "additionalProperties", "minProperties", "maxProperties"]),
    array: new Set(["items", "prefixItems", "minItems", "maxItems"]),
    number: new Set(),
    integer: new Set(),
    boolean: new Set(),
    null: new Set()
};
const formats = new Set(["date-time", "date", "time"]);
/** What an untyped schema (`{}`) allows: any JSON value. */
const anyValue: Schema = { oneOf: [{ type: ["string", "number", "boolean", "null"] }, { type: "object", additionalProperties: true }, { type: "array" }] };

/**
 * Checks that a JSON Schema lies in the subset a grammar can enforce exactly, and returns it in the
 * form node-llama-cpp's JSON-schema grammar takes (`anyOf` becomes `oneOf`, annotations dropped,
 * `{}` becomes "any value"). A keyword the grammar cannot enforce (`pattern`, `minimum`, `allOf`…)
 * is refused rather than ignored, so a response that claims to match the schema always does.
 * The schema is measured against `limits` first, without recursion, so the recursive conversion
 * below only ever sees a schema of bounded depth and size.
 * @throws QuandexError `schema_too_complex` past the limits; `invalid_parameter` naming the schema path and the keyword.
 */
export function toGrammarSchema(schema: unknown, param = "response_format", limits: SchemaLimits = defaultSchemaLimits): Record<string, unknown> {
    if (!isObject(schema)) throw refuse(param, "schema", "the schema must be a JSON object.");
    checkSchemaLimits(schema, limits, param);
    const defs = isObject(schema.$defs) ? schema.$defs : {};
    return convert(schema, "schema", defs, param);
}

function convert(node: Json, at: string, defs: Schema, param: string): Schema {
    if (node === true) return anyValue;
    if (!isObject(node)) throw refuse(param, at, "a schema must be an object.");
    const out: Schema = {};
    const types = node.type === undefined ? [] : Array.isArray(node.type) ? node.type : [node.type];
    for (const type of types) {
        if (typeof type !== "string" || !(type in byType)) throw refuse(param, `${at}.type`, `unknown type ${JSON.stringify(type)}.`);
    }
    for (const [key, value] of Object.entries(node)) {
        if (annotations.has(key) || key.startsWith("x-")) continue;
        const allowed = common.has(key) || types.some((type) => byType[type as string]!.has(key));
        if (!allowed) {
            const known = Object.values(byType).some((set) => set.has(key));
            throw refuse(
                param,
                `${at}.${key}`,
                known ? `'${key}' needs a matching 'type' beside it.` : `'${key}' cannot be enforced by the grammar; remove it or use a supported keyword.`
            );
        }
        switch (key) {
            case "type":
                out.type = value;
                break;
            case "enum":
            case "const": {
                const values = key === "enum" ? value : [value];
                if (!Array.isArray(values) || values.length === 0 || values.some((v) => v !== null && typeof v === "object")) {
                    throw refuse(param, `${at}.${key}`, "only strings, numbers, booleans and null can be listed.");
                }
                out[key] = value;
                break;
            }
            case "oneOf":
            case "anyOf": {
                if (node.oneOf !== undefined && node.anyOf !== undefined) throw refuse(param, at, "use one of 'oneOf' or 'anyOf', not both.");
                if (!Array.isArray(value) || value.length === 0) throw refuse(param, `${at}.${key}`, "must be a non-empty list of schemas.");
                // A grammar alternation guarantees at least one branch matches: anyOf's meaning.
                out.oneOf = value.map((branch, i) => convert(branch, `${at}.${key}[${i}]`, defs, param));
                break;
            }
            case "$ref": {
                const name = typeof value === "string" ? /^#\/\$defs\/([^/]+)$/.exec(value)?.[1] : undefined;
                if (name === undefined || !(name in defs))
                    throw refuse(param, `${at}.$ref`, "only references of the form '#/$defs/<name>' to a definition in the root '$defs' are supported.");
                out.$ref = value;
                break;
            }
            case "$defs": {
                if (!isObject(value)) throw refuse(param, `${at}.$defs`, "must be an object of schemas.");
                if (at !== "schema") throw refuse(param, `${at}.$defs`, "'$defs' is only supported at the root of the schema.");
                out.$defs = Object.fromEntries(Object.entries(value).map(([name, def]) => [name, convert(def, `${at}.$defs.${name}`, defs, param)]));
                break;
            }
            case "properties": {
                if (!isObject(value)) throw refuse(param, `${at}.properties`, "must be an object of schemas.");
                out.properties = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, convert(sub, `${at}.properties.${name}`, defs, param)]));
                break;
            }
            case "required": {
                const properties = isObject(node.properties) ? node.properties : {};
                if (!Array.isArray(value) || value.some((name) => typeof name !== "string")) throw refuse(param, `${at}.required`, "must be a list of property names.");
                const missing = value.find((name) => !Object.hasOwn(properties, name as string));
                if (missing !== undefined) throw refuse(param, `${at}.required`, `'${String(missing)}' is required but not listed in 'properties'.`);
                out.required = value;
                break;
            }
            case "additionalProperties":
                out.additionalProperties = typeof value === "boolean" ? value : convert(value, `${at}.additionalProperties`, defs, param);
                break;
            case "items":
                out.items = convert(value, `${at}.items`, defs, param);
                break;
            case "prefixItems":
                if (!Array.isArray(value)) throw refuse(param, `${at}.prefixItems`, "must be a list of schemas.");
                out.prefixItems = value.map((item, i) => convert(item, `${at}.prefixItems[${i}]`, defs, param));
                break;
            case "format":
                if (typeof value !== "string" || !formats.has(value)) throw refuse(param, `${at}.format`, "only the formats 'date-time', 'date' and 'time' can be enforced.");
                out.format = value;
                break;
            default:
                if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw refuse(param, `${at}.${key}`, "must be a non-negative integer.");
                out[key] = value;
        }
    }
    return normalize(out, types as string[], at, param);
}

/**
 * node-llama-cpp reads one kind of schema per node ($ref, then oneOf, then const, enum, then the
 * type) and silently ignores the rest, and a `type` list only produces scalars. Combinations it
 * would ignore are refused or rewritten here, so the grammar means exactly what the schema says.
 */
function normalize(out: Schema, types: readonly string[], at: string, param: string): Schema {
    const literal = "enum" in out || "const" in out;
    if ("$ref" in out && Object.keys(out).some((key) => key !== "$ref" && key !== "$defs")) {
        throw refuse(param, at, "'$ref' cannot be combined with other keywords in the same schema.");
    }
    if ("oneOf" in out && (literal || types.length > 0)) {
        throw refuse(param, at, "'anyOf'/'oneOf' cannot be combined with 'type', 'enum' or 'const' in the same schema; move them into each branch.");
    }
    if ("enum" in out && "const" in out) throw refuse(param, at, "use one of 'enum' or 'const', not both.");
    if (literal) {
        const values = "enum" in out ? (out.enum as Json[]) : [out.const as Json];
        const outside = types.length === 0 ? undefined : values.find((value) => !jsonTypes(value).some((type) => types.includes(type)));
        if (outside !== undefined) throw refuse(param, at, `${JSON.stringify(outside)} is not of the schema's type.`);
        return { ...("enum" in out ? { enum: out.enum! } : { const: out.const! }), ...("$defs" in out && { $defs: out.$defs! }) };
    }
    if (types.length > 1) {
        const branches = types.map((type) => normalize(pick(out, type), [type], at, param));
        return { oneOf: branches, ...("$defs" in out && { $defs: out.$defs! }) };
    }
    const [type] = types;
    if (type === undefined) return "$ref" in out || "oneOf" in out ? out : { ...anyValue, ...out };
    const single: Schema = { ...out, type };
    const num = (key: string): number | undefined => (typeof single[key] === "number" ? (single[key] as number) : undefined);
    if (type === "string") {
        if (single.format !== undefined && (single.minLength !== undefined || single.maxLength !== undefined)) {
            throw refuse(param, at, "'minLength'/'maxLength' cannot be combined with 'format'.");
        }
        if ((num("maxLength") ?? Infinity) < (num("minLength") ?? 0)) throw refuse(param, at, "'maxLength' is below 'minLength'.");
    }
    if (type === "object") {
        const listed = isObject(single.properties) ? Object.keys(single.properties).length : 0;
        // The grammar writes every listed property, required or not.
        if ((num("maxProperties") ?? Infinity) < listed) throw refuse(param, `${at}.maxProperties`, `every listed property is generated, so it must be at least ${listed}.`);
        if ((num("minProperties") ?? 0) > listed && (single.additionalProperties === undefined || single.additionalProperties === false)) {
            throw refuse(param, `${at}.minProperties`, "more properties than 'properties' lists need 'additionalProperties'.");
        }
    }
    if (type === "array") {
        const prefix = Array.isArray(single.prefixItems) ? single.prefixItems.length : 0;
        if ((num("maxItems") ?? Infinity) < Math.max(prefix, num("minItems") ?? 0)) throw refuse(param, `${at}.maxItems`, "is below 'minItems' or the number of 'prefixItems'.");
    }
    return single;
}

/** The schema's keywords that apply to one of its types. */
function pick(schema: Schema, type: string): Schema {
    return Object.fromEntries(Object.entries(schema).filter(([key]) => byType[type]!.has(key)));
}

function jsonTypes(value: Json): string[] {
    if (value === null) return ["null"];
    if (typeof value === "number") return Number.isInteger(value) ? ["integer", "number"] : ["number"];
    return [typeof value];
}

function isObject(value: unknown): value is Schema {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function refuse(param: string, at: string, detail: string): QuandexError {
    return new QuandexError("invalid_parameter", { param, detail: `${at}: ${detail}` }, { param });
}
