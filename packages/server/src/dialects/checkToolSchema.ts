import { Ajv } from "ajv";
import { QuandexError } from "@quandex/protocol";

// One validator for every dialect's tool schemas; `strict: false` so vendor keywords (`x-…`) pass, as JSON Schema allows.
const ajv = new Ajv({ strict: false, validateSchema: true });

/**
 * Refuses a tool whose parameters are not a valid JSON Schema (a wrong `type`, a `required` that is
 * not a list…), naming the field, before anything reaches the model. Keywords a grammar cannot
 * enforce are fine here: the schema only steers the model unless the call is forced (then see
 * `planToolConversation`).
 */
export function checkToolSchema(schema: unknown, param: string): void {
    if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
        throw new QuandexError("invalid_parameter", { param, detail: "must be a JSON Schema object." }, { param });
    }
    if (!ajv.validateSchema(schema as object)) {
        const issue = ajv.errors?.[0];
        const where = issue?.instancePath ? `${param}${issue.instancePath.replace(/\//g, ".")}` : param;
        throw new QuandexError("invalid_parameter", { param: where, detail: `not a valid JSON Schema: ${issue?.message ?? "invalid"}.` }, { param: where });
    }
}
