import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { NodeLlamaEngine, toGrammarSchema, type ModelRunner } from "@quandex/engine";
import { QuandexError } from "@quandex/protocol";
import { requireTestModel } from "@quandex/test-support";

/**
 * The JSON Schema subset that response_format json_schema enforces exactly: what is accepted (and
 * how it is rewritten for node-llama-cpp's grammar generator), what is refused, and that every
 * accepted schema compiles to a grammar in the real engine.
 */

const accepted: Array<[name: string, schema: object, grammarSchema: object]> = [
    [
        "a typed object",
        { type: "object", properties: { a: { type: "string", maxLength: 3 } }, required: ["a"] },
        { type: "object", properties: { a: { type: "string", maxLength: 3 } }, required: ["a"] }
    ],
    ["annotations are dropped", { title: "T", description: "d", $schema: "x", "x-extra": 1, type: "integer", default: 3 }, { type: "integer" }],
    ["a one-type list is the type", { type: ["boolean"] }, { type: "boolean" }],
    [
        "a type list becomes one branch per type, each with its own keywords",
        { type: ["string", "null", "object"], minLength: 1, properties: { n: { type: "number" } } },
        { oneOf: [{ type: "string", minLength: 1 }, { type: "null" }, { type: "object", properties: { n: { type: "number" } } }] }
    ],
    ["anyOf is an alternation", { anyOf: [{ type: "string" }, { type: "null" }] }, { oneOf: [{ type: "string" }, { type: "null" }] }],
    ["enum beside its type keeps the enum", { type: "string", enum: ["a", "b"] }, { enum: ["a", "b"] }],
    ["an integer enum fits type number", { type: "number", enum: [1, 2.5] }, { enum: [1, 2.5] }],
    [
        "$defs and $ref",
        { $defs: { p: { type: "integer" } }, type: "array", items: { $ref: "#/$defs/p" }, maxItems: 3 },
        { $defs: { p: { type: "integer" } }, type: "array", items: { $ref: "#/$defs/p" }, maxItems: 3 }
    ],
    ["an empty schema is any value", {}, { oneOf: [{ type: ["string", "number", "boolean", "null"] }, { type: "object", additionalProperties: true }, { type: "array" }] }]
];

const refused: Array<[schema: object, message: RegExp]> = [
    [{ type: "string", pattern: "^a" }, /schema\.pattern: 'pattern' cannot be enforced/],
    [{ type: "integer", minimum: 1 }, /'minimum' cannot be enforced/],
    [{ type: "object", properties: { a: { type: "number", multipleOf: 2 } } }, /schema\.properties\.a\.multipleOf/],
    [{ allOf: [{ type: "string" }] }, /'allOf'/],
    [{ not: { type: "string" } }, /'not'/],
    [{ type: "array", uniqueItems: true }, /'uniqueItems'/],
    [{ maxLength: 3 }, /'maxLength' needs a matching 'type'/],
    [{ type: "date" }, /unknown type "date"/],
    [{ type: "string", format: "email" }, /format/],
    [{ type: "string", format: "date", maxLength: 3 }, /cannot be combined with 'format'/],
    [{ type: "string", minLength: 5, maxLength: 2 }, /below 'minLength'/],
    [{ type: "object", properties: { a: { type: "string" }, b: { type: "string" } }, maxProperties: 1 }, /every listed property is generated/],
    [{ type: "object", minProperties: 2 }, /additionalProperties/],
    [{ type: "array", prefixItems: [{ type: "string" }, { type: "string" }], maxItems: 1 }, /maxItems/],
    [{ type: "object", properties: {}, required: ["a"] }, /'a' is required but not listed/],
    [{ $ref: "#/definitions/a", definitions: { a: {} } }, /\$defs/],
    [{ $defs: { a: { type: "string" } }, $ref: "#/$defs/a", maxLength: 3 }, /needs a matching 'type'|cannot be combined/],
    [{ type: "object", anyOf: [{ type: "object" }] }, /move them into each branch/],
    [{ type: "string", enum: ["a", 1] }, /1 is not of the schema's type/],
    [{ enum: [{ a: 1 }] }, /only strings, numbers, booleans and null/],
    [{ enum: [] }, /only strings/],
    [{ type: "object", properties: { deep: { $defs: {} } } }, /only supported at the root/]
];

describe("toGrammarSchema: the enforceable JSON Schema subset", () => {
    for (const [name, schema, expected] of accepted) {
        it(`accepts ${name}`, () => assert.deepEqual(toGrammarSchema(schema), expected));
    }
    for (const [schema, message] of refused) {
        it(`refuses ${JSON.stringify(schema)}`, () =>
            assert.throws(
                () => toGrammarSchema(schema),
                (e) => e instanceof QuandexError && e.code === "invalid_parameter" && e.param === "response_format" && message.test(e.message)
            ));
    }
    it("refuses a schema that is not an object", () => assert.throws(() => toGrammarSchema([1]), /must be a JSON object/));
});

describe("every accepted schema compiles to a grammar in the real engine", () => {
    let engine: NodeLlamaEngine;
    let runner: ModelRunner;
    before(async () => {
        engine = await NodeLlamaEngine.create({ gpu: false });
        runner = await engine.load({ id: "m", path: requireTestModel(), options: { contextSize: 128, parallel: 1, gpu: false, threads: 1 } });
    });
    after(async () => {
        await runner.dispose();
        await engine.dispose();
    });

    it("compiles each, and json_object", async () => {
        for (const [, schema] of accepted) await runner.checkConstraint!({ type: "json_schema", schema: schema as Record<string, unknown> });
        await runner.checkConstraint!({ type: "json" });
    });

    it("refuses what the subset check refuses", async () => {
        await assert.rejects(runner.checkConstraint!({ type: "json_schema", schema: { type: "string", pattern: "a" } }), QuandexError);
    });
});
