/**
 * Fails when the client drifts from the one schema source, @quandex/protocol:
 * - compile time: the client's parameter and result types must equal the TypeBox schemas' Static
 *   types (checked by running tsc over src and this file, below);
 * - run time: every wire field the SDK and the CLI read must exist in the schemas' `properties`,
 *   and the error classes and retry policy must agree with the error catalogue.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, it } from "node:test";
import type { Static, TSchema } from "@sinclair/typebox";
import {
    ErrorBodySchema,
    GenerateChunkSchema,
    GenerateRequestSchema,
    GenerateResponseSchema,
    HealthResponseSchema,
    ModelEntrySchema,
    ModelListSchema,
    ModelStatsSchema,
    ModelStatusSchema,
    StatsResponseSchema,
    errorCatalogue
} from "@quandex/protocol";
import { APIError, RetryPolicy, type GenerateResult, type GenerateStreamChunk, type ModelStatsResult, type QuandexClient } from "../src/index.js";
import { errorClassFor, statusByErrorCode, statusByErrorType } from "../src/core/errors.js";

// ---- compile-time checks (enforced by the "tsc" test below) --------------------------------
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | undefined {
    return undefined;
}
type Result<K extends keyof QuandexClient> = QuandexClient[K] extends (...args: never[]) => infer R ? Awaited<R> : never;

expectType<Equals<Parameters<QuandexClient["generate"]>[0], Omit<Static<typeof GenerateRequestSchema>, "stream">>>();
expectType<Equals<Parameters<QuandexClient["streamGenerate"]>[0], Omit<Static<typeof GenerateRequestSchema>, "stream">>>();
expectType<Equals<Result<"listModels">, Static<typeof ModelListSchema>>>();
expectType<Equals<Result<"getModel">, Static<typeof ModelEntrySchema>>>();
expectType<Equals<Result<"loadModel">, Static<typeof ModelEntrySchema>>>();
expectType<Equals<Result<"waitUntilReady">, Static<typeof ModelEntrySchema>>>();
expectType<Equals<Result<"getStats">, Static<typeof StatsResponseSchema>>>();
expectType<Equals<Result<"health">, Static<typeof HealthResponseSchema>>>();
expectType<Equals<Result<"generate">, GenerateResult>>();
expectType<Equals<Omit<GenerateResult, "text">, Static<typeof GenerateResponseSchema>>>();
expectType<Equals<Omit<GenerateStreamChunk, "text" | "finish_reason">, Static<typeof GenerateChunkSchema>>>();
expectType<Equals<ModelStatsResult, Static<typeof ModelEntrySchema> & Static<typeof ModelStatsSchema>>>();
// getModelStats flattens two objects: they must not share a field name.
expectType<Equals<keyof Static<typeof ModelEntrySchema> & keyof Static<typeof ModelStatsSchema>, never>>();

// ---- run-time checks ------------------------------------------------------------------------

/** Wire fields read by the SDK (src/) and the CLI commands, as paths into each schema. */
const readByClient: Array<[schema: TSchema, name: string, paths: string[]]> = [
    [GenerateResponseSchema, "GenerateResponse", ["id", "model", "choices[].text", "choices[].finish_reason", "usage.completion_tokens", "metal_stats.tokens_per_second"]],
    [GenerateChunkSchema, "GenerateChunk", ["choices[].text", "choices[].finish_reason", "usage", "metal_stats", "usage.completion_tokens"]],
    [ModelEntrySchema, "ModelEntry", ["id", "status", "aliases", "error", "memory_usage", "metal_optimized", "backend", "context_size", "parallel", "gpu_layers", "size_bytes"]],
    [ModelListSchema, "ModelList", ["models[].id", "models[].status", "data[].id"]],
    [
        StatsResponseSchema,
        "StatsResponse",
        [
            "models",
            "metal_device.name",
            "metal_device.backend",
            "metal_device.memory_allocated",
            "metal_device.memory_available",
            "metal_device.temperature",
            "engine.name",
            "engine.version",
            "engine.build",
            "engine.llama_cpp_release",
            "engine.threads",
            "server.uptime_seconds",
            "server.active_sequences",
            "server.queue_depth",
            "server.max_queue",
            "server.rss_bytes"
        ]
    ],
    [
        ModelStatsSchema,
        "ModelStats",
        ["requests_per_second", "average_latency", "error_rate", "p95_latency_ms", "output_tokens_per_second", "active_sequences", "queue_depth", "requests_total"]
    ],
    [ErrorBodySchema, "ErrorBody", ["error.code", "error.message", "error.type", "error.param"]]
];

function hasPath(schema: TSchema, path: string): boolean {
    let node: TSchema | undefined = schema;
    for (const part of path.split(".")) {
        const isArray = part.endsWith("[]");
        const key = isArray ? part.slice(0, -2) : part;
        node = (node?.properties as Record<string, TSchema> | undefined)?.[key];
        if (node === undefined) return false;
        if (isArray) {
            if (node.type !== "array") return false;
            node = node.items as TSchema;
        }
    }
    return true;
}

describe("client vs @quandex/protocol", () => {
    it("the client's types equal the schemas' Static types (tsc over src and tests)", { timeout: 120_000 }, async () => {
        const tsc = fileURLToPath(new URL("../../../node_modules/typescript/bin/tsc", import.meta.url));
        const project = fileURLToPath(new URL("./tsconfig.json", import.meta.url));
        try {
            await promisify(execFile)(process.execPath, [tsc, "-p", project]);
        } catch (error) {
            const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
            assert.fail(`tsc found type errors (drift?):\n${stdout}${stderr}`);
        }
    });

    for (const [schema, name, paths] of readByClient) {
        it(`every ${name} field the client reads is in the schema`, () => {
            const missing = paths.filter((path) => !hasPath(schema, path));
            assert.deepEqual(missing, [], `${name} lacks ${missing.join(", ")}`);
        });
    }

    it("the model statuses the client branches on are the schema's", () => {
        const literals = (ModelStatusSchema.anyOf as Array<{ const: string }>).map((s) => s.const).sort();
        assert.deepEqual(literals, ["error", "loading", "ready", "unloaded"]);
    });

    it("every catalogue code maps to the same error class from an HTTP answer and from a stream frame", () => {
        for (const [code, { status, type }] of Object.entries(errorCatalogue)) {
            const body = { error: { code, message: "m", type, param: null } };
            const fromResponse = APIError.fromResponse(status, body);
            const fromFrame = APIError.fromStreamFrame(body);
            assert.equal(fromResponse.constructor, errorClassFor(status, code), code);
            assert.equal(fromFrame.constructor, fromResponse.constructor, `${code}: frame gives ${fromFrame.constructor.name}`);
            assert.equal(fromResponse.status, status);
            assert.equal(fromResponse.code, code);
        }
    });

    it("the SDK's code -> status table is the catalogue's", () => {
        const catalogue = Object.fromEntries(Object.entries(errorCatalogue).map(([code, { status }]) => [code, status]));
        assert.deepEqual({ ...statusByErrorCode }, catalogue);
        for (const { type, status } of Object.values(errorCatalogue)) {
            assert.equal(errorClassFor(statusByErrorType[type]!, null), errorClassFor(status, null), `type ${type}`);
        }
    });

    it("the retry policy retries exactly rate_limit_exceeded and the 503 codes", () => {
        const policy = new RetryPolicy();
        const retried = Object.entries(errorCatalogue)
            .filter(([code, { status, type }]) => policy.shouldRetry(APIError.fromResponse(status, { error: { code, message: "m", type, param: null } })))
            .map(([code]) => code)
            .sort();
        const expected = Object.entries(errorCatalogue)
            .filter(([code, { status }]) => status === 503 || code === "rate_limit_exceeded")
            .map(([code]) => code)
            .sort();
        assert.deepEqual(retried, expected);
        assert.ok(retried.includes("model_loading") && !retried.includes("daily_quota_exceeded"));
    });
});
