import fc from "fast-check";
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { ErrorBodySchema, errorCatalogue, isErrorCode } from "@quandex/protocol";
import { generateOnce, greedyRequest } from "./generateOnce.js";
import { rawRequest, type RawResponse } from "./rawRequest.js";
import { soakFigure, type SoakFigure } from "./SoakFigure.js";
import type { SoakServer } from "./SoakServer.js";

export type FuzzOptions = {
    server: SoakServer;
    engine: string;
    requests: number;
    seed: number;
    /** Scopes generate, read, admin, unlimited: the fuzz's own key (its id may appear in paths). */
    fuzzKey: { id: string; key: string };
    /** A key with the default limits, so the limited paths are fuzzed too. */
    limitedKey: string;
    /** The harness's own admin key, never used in a fuzzed path. */
    checkKey: string;
    /** The greedy output of `greedyRequest`, for the request answered after the fuzz. */
    expectedText: string;
};

type Operation = { method: string; path: string };
/** `route` is the OpenAPI path the case was made from, to group its findings. */
type FuzzCase = {
    method: string;
    route: string;
    path: string;
    headers: Record<string, string>;
    body: Buffer | null;
    label: string;
};

/** Anthropic's error body as `/v1/messages` answers it: `{"type":"error","error":{type, message, code, param?}}`. */
const AnthropicErrorBodySchema = Type.Object({
    type: Type.Literal("error"),
    error: Type.Object({
        type: Type.String(),
        message: Type.String(),
        code: Type.String(),
        param: Type.Optional(Type.String())
    })
});

/** Ollama's error body as `/api/*` answers it: `{"error": message, "code"}`. */
const OllamaErrorBodySchema = Type.Object({ error: Type.String(), code: Type.String() });

const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"];
const TEN_MB = 10 * 1024 * 1024;

/**
 * Property-based fuzz of every route the server's OpenAPI document lists (so routes added later
 * are fuzzed too), plus unknown ones: bodies, headers and query strings with wrong types, huge
 * and negative numbers, deep nesting, invalid UTF-8, NUL bytes, 10 MB bodies, unknown fields,
 * duplicate keys and wrong content types. The property: no 5xx, no hang, and every error in the
 * catalogue's shape with the catalogue's status. Afterwards the server's RSS must come back
 * within 10% of where it started and a normal request must still be answered correctly.
 */
export async function fuzzScenario(options: FuzzOptions): Promise<SoakFigure> {
    const { server, fuzzKey, limitedKey, checkKey } = options;
    const operations = await listOperations(server.baseUrl, checkKey);
    const modelId = server.options.modelId;

    // RSS is compared with its value after a warm-up of ordinary requests, not at boot.
    for (let i = 0; i < 5; i++)
        await generateOnce(server.baseUrl, checkKey, {
            model: modelId,
            ...greedyRequest
        });
    // Then a tenth as many fuzz cases of another seed, unjudged, so the start figure is the server
    // warm on every route (schemas compiled, an embedding context made, large buffers allocated
    // once): what must not grow is what a long run adds on top of that.
    await fc.assert(
        fc.asyncProperty(fuzzCase(operations, modelId, fuzzKey, limitedKey), async (testCase) => {
            await rawRequest({ ...testCase, baseUrl: server.baseUrl, timeoutMs: 30_000 });
        }),
        { numRuns: Math.max(10, Math.round(options.requests / 10)), seed: options.seed + 1 }
    );
    const rssStart = server.rssBytes();

    const statuses = new Map<number, number>();
    let sent = 0;
    let tenMegabyteBodies = 0;
    let badAnswers = 0;
    // Every request runs (the figure counts them all); each distinct kind of bad answer keeps its
    // shortest example as the repro, which is what shrinking would give for one property.
    const problems = new Map<string, { count: number; routes: Set<string>; example: string }>();
    await fc.assert(
        fc.asyncProperty(fuzzCase(operations, modelId, fuzzKey, limitedKey), async (testCase) => {
            const answer = await rawRequest({
                ...testCase,
                baseUrl: server.baseUrl,
                timeoutMs: 30_000
            });
            sent++;
            if ((testCase.body?.length ?? 0) >= TEN_MB) tenMegabyteBodies++;
            if (answer.kind === "response") statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
            const problem = judge(testCase, answer);
            if (problem === null) return;
            badAnswers++;
            const example = `${problem.detail.slice(0, 200)} <- ${describe(testCase)}`;
            const known = problems.get(problem.kind) ?? {
                count: 0,
                routes: new Set<string>(),
                example
            };
            known.count++;
            known.routes.add(`${testCase.method} ${testCase.route}`);
            if (example.length < known.example.length) known.example = example;
            problems.set(problem.kind, known);
        }),
        { numRuns: options.requests, seed: options.seed }
    );

    // The heap shrinks lazily after the 10 MB bodies; give it a few seconds before comparing.
    let rssEnd = server.rssBytes();
    for (let i = 0; i < 50 && rssStart !== null && rssEnd !== null && rssEnd > rssStart * 1.1; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        rssEnd = server.rssBytes();
    }
    const after = await generateOnce(server.baseUrl, checkKey, {
        model: modelId,
        ...greedyRequest
    });

    const failures: string[] = [...problems].map(
        ([kind, { count, routes, example }]) => `${kind}: ${count}× on ${routes.size} route(s) (${[...routes].slice(0, 4).join(", ")}); shortest: ${example}`
    );
    const fiveHundreds = [...statuses].filter(([status]) => status >= 500).reduce((sum, [, count]) => sum + count, 0);
    if (rssStart === null || rssEnd === null) failures.push("the server's RSS could not be read");
    else if (rssEnd > rssStart * 1.1) failures.push(`RSS ${mb(rssEnd)} MB after the fuzz against ${mb(rssStart)} MB before (more than 10%)`);
    if (!after.ok) failures.push(`a normal request after the fuzz answered ${after.status} ${after.code}`);
    else if (after.text !== options.expectedText) failures.push(`a normal request after the fuzz answered ${JSON.stringify(after.text)}, not the greedy output`);
    return soakFigure(
        "fuzz",
        options.engine,
        {
            requests: sent,
            routes: operations.length,
            status_5xx: fiveHundreds,
            bad_answers: badAnswers,
            kinds_of_bad_answer: problems.size,
            status_4xx: [...statuses].filter(([status]) => status >= 400 && status < 500).reduce((sum, [, count]) => sum + count, 0),
            status_2xx: [...statuses].filter(([status]) => status < 300).reduce((sum, [, count]) => sum + count, 0),
            bodies_10mb: tenMegabyteBodies,
            rss_start_mb: rssStart === null ? null : mb(rssStart),
            rss_end_mb: rssEnd === null ? null : mb(rssEnd),
            normal_request_after: after.ok && after.text === options.expectedText
        },
        failures
    );
}

/** Why an answer breaks the property (a kind, to group repeats, and the evidence), or null when it is fine. */
function judge(testCase: FuzzCase, answer: RawResponse): { kind: string; detail: string } | null {
    if (answer.kind === "failed")
        return {
            kind: answer.timedOut ? "hang" : "no answer",
            detail: answer.error
        };
    const text = answer.body.toString("utf8", 0, 300);
    if (answer.status >= 500) return { kind: `HTTP ${answer.status}`, detail: text };
    if (answer.status < 400 || testCase.method === "HEAD") return null;
    let body: unknown;
    try {
        body = JSON.parse(answer.body.toString("utf8"));
    } catch {
        return {
            kind: `HTTP ${answer.status} not JSON`,
            detail: JSON.stringify(text)
        };
    }
    // Anthropic's dialect (`/v1/messages`) and Ollama's (`/api/*`) answer in their own shapes, which
    // their clients read, with the catalogue's code inside; errors raised before a dialect's
    // handler runs may keep the catalogue's shape.
    let code: string;
    if (testCase.path.startsWith("/v1/messages") && Value.Check(AnthropicErrorBodySchema, body)) code = body.error.code;
    else if (testCase.path.startsWith("/api/") && Value.Check(OllamaErrorBodySchema, body)) code = body.code;
    else if (Value.Check(ErrorBodySchema, body)) code = body.error.code;
    else {
        const topCode = (body as { code?: unknown } | null)?.code;
        return { kind: `HTTP ${answer.status} outside the error shape${typeof topCode === "string" ? ` (${topCode})` : ""}`, detail: text };
    }
    if (!isErrorCode(code)) return { kind: `code ${code} not in the catalogue`, detail: text };
    if (errorCatalogue[code].status !== answer.status)
        return {
            kind: `HTTP ${answer.status} with ${code}, which the catalogue gives ${errorCatalogue[code].status}`,
            detail: text
        };
    return null;
}

function describe(testCase: FuzzCase): string {
    const body =
        testCase.body === null
            ? "no body"
            : testCase.body.length > 300
              ? `${testCase.body.length}-byte body (${testCase.label})`
              : JSON.stringify(testCase.body.toString("latin1"));
    return `${testCase.method} ${testCase.path.slice(0, 300)} ${JSON.stringify(testCase.headers).slice(0, 300)} ${body}`;
}

/** Every (method, path) of the server's OpenAPI document, path parameters left as `{name}`. */
async function listOperations(baseUrl: string, apiKey: string): Promise<Operation[]> {
    const response = await fetch(`${baseUrl}/v1/openapi.json`, {
        headers: { authorization: `Bearer ${apiKey}` }
    });
    if (!response.ok) throw new Error(`GET /v1/openapi.json: HTTP ${response.status}`);
    const document = (await response.json()) as {
        paths: Record<string, Record<string, unknown>>;
    };
    const operations: Operation[] = [];
    for (const [path, item] of Object.entries(document.paths)) {
        for (const method of Object.keys(item)) if (methods.includes(method.toUpperCase())) operations.push({ method: method.toUpperCase(), path });
    }
    for (const path of ["/health", "/", "/v1/no-such-route", "/api/tags", "/v1/messages"]) if (!operations.some((o) => o.path === path)) operations.push({ method: "GET", path });
    return operations;
}

function fuzzCase(operations: Operation[], modelId: string, fuzzKey: { id: string; key: string }, limitedKey: string): fc.Arbitrary<FuzzCase> {
    const weird = fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.string({ unit: "grapheme", maxLength: 20 }),
        fc.constantFrom("", "\u0000", "a\u0000b", "\ud800", "\uffff", "../../etc/passwd", "%00", "null", "true", "[]", "{}", " ", "x".repeat(5000))
    );
    const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -1, 1, 2 ** 31, 2 ** 53 + 1, -(2 ** 53), 1e308, -1e308, 1e-320, 4096, 100_000, 1e12));
    const wrongType = fc.oneof(
        weird,
        number,
        fc.boolean(),
        fc.constant(null),
        fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
        fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), {
            maxKeys: 4
        })
    );
    const field = <T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ weight: 3, arbitrary: valid }, { weight: 2, arbitrary: wrongType });
    const message = fc.record(
        {
            role: field(fc.constantFrom("user", "system", "assistant", "tool", "developer")),
            content: field(weird)
        },
        { requiredKeys: [] }
    );
    // Fields of every route's body (generate, chat, completions, embeddings, keys, pull), each valid or of a wrong type.
    const plausible = fc.record(
        {
            model: field(fc.constantFrom(modelId, "no-such-model")),
            prompt: field(fc.oneof(weird, fc.constant("Once upon a time"))),
            messages: field(fc.array(message, { maxLength: 5 })),
            input: field(weird),
            max_tokens: field(fc.integer({ min: 1, max: 64 })),
            max_completion_tokens: field(fc.integer({ min: 1, max: 64 })),
            temperature: field(fc.double({ min: 0, max: 2, noNaN: true })),
            top_p: number,
            top_k: number,
            seed: number,
            n: field(fc.integer({ min: 1, max: 3 })),
            stop: field(fc.array(weird, { maxLength: 50 })),
            stream: field(fc.boolean()),
            ignore_eos: fc.boolean(),
            response_format: field(
                fc.record({
                    type: fc.constantFrom("json_object", "json_schema", "text"),
                    json_schema: fc.jsonValue({ maxDepth: 4 })
                })
            ),
            logit_bias: wrongType,
            name: weird,
            scopes: field(
                fc.array(fc.constantFrom("generate", "read", "admin", "root"), {
                    maxLength: 4
                })
            ),
            rps: number,
            burst: number,
            daily: number,
            unlimited: fc.boolean(),
            // Ollama's (`/api/*`): its options object, output format and keep-alive.
            options: field(fc.record({ temperature: number, num_predict: number, num_ctx: number, seed: number }, { requiredKeys: [] })),
            format: field(fc.constantFrom("json", "")),
            keep_alive: field(fc.constantFrom("5m", "0", "-1", 300)),
            system: weird,
            url: field(fc.constantFrom("hf:nobody/nothing-GGUF:Q4_0", "http://127.0.0.1:1/x.gguf", "file:///etc/passwd"))
        },
        { requiredKeys: [] }
    );
    const json = fc
        .tuple(plausible, fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 }))
        .map(([known, unknown]) => Buffer.from(JSON.stringify({ ...unknown, ...known })));
    const body: fc.Arbitrary<{ bytes: Buffer | null; label: string }> = fc.oneof(
        {
            weight: 40,
            arbitrary: json.map((bytes) => ({ bytes, label: "fields" }))
        },
        {
            weight: 8,
            arbitrary: fc.jsonValue({ maxDepth: 6 }).map((value) => ({
                bytes: Buffer.from(JSON.stringify(value) ?? "null"),
                label: "any JSON"
            }))
        },
        {
            weight: 4,
            arbitrary: fc.tuple(fc.constantFrom(10, 1000, 5000, 100_000), fc.boolean()).map(([depth, array]) => ({
                bytes: Buffer.from(array ? `${"[".repeat(depth)}${"]".repeat(depth)}` : `{"model":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`),
                label: `nested ${depth}`
            }))
        },
        {
            weight: 4,
            arbitrary: fc.tuple(weird, number).map(([text, n]) => ({
                bytes: Buffer.from(`{"model":"${modelId}","model":${JSON.stringify(text)},"prompt":"x","max_tokens":4,"max_tokens":${JSON.stringify(n)}}`),
                label: "duplicate keys"
            }))
        },
        {
            weight: 6,
            arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => ({
                bytes: Buffer.concat([
                    Buffer.from(`{"model":"${modelId}","max_tokens":4,"prompt":"`),
                    Buffer.from([0xff, 0xc0, 0x80, 0xed, 0xa0, 0x80]),
                    Buffer.from(bytes),
                    Buffer.from('"}')
                ]),
                label: "invalid UTF-8"
            }))
        },
        {
            weight: 3,
            arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => ({ bytes: Buffer.from(bytes), label: "random bytes" }))
        },
        {
            weight: 3,
            arbitrary: fc.constant({
                bytes: Buffer.from(`{"model":"${modelId}","prompt":"a\u0000b\\u0000c","max_tokens":4,"stop":["\\u0000"]}`),
                label: "NUL bytes"
            })
        },
        {
            weight: 3,
            arbitrary: json.chain((bytes) =>
                fc.nat({ max: Math.max(0, bytes.length - 1) }).map((cut) => ({
                    bytes: bytes.subarray(0, cut),
                    label: "truncated"
                }))
            )
        },
        { weight: 3, arbitrary: fc.constant({ bytes: null, label: "no body" }) },
        {
            weight: 1,
            arbitrary: fc.constantFrom("prompt", "junk").map((kind) => ({
                bytes: kind === "prompt" ? Buffer.from(`{"model":"${modelId}","max_tokens":4,"prompt":"${"a".repeat(TEN_MB)}"}`) : Buffer.alloc(TEN_MB, 0x7b),
                label: `10 MB ${kind}`
            }))
        }
    );
    const contentType = fc.oneof(
        { weight: 10, arbitrary: fc.constant("application/json") },
        {
            weight: 4,
            arbitrary: fc.constantFrom(
                "application/json; charset=utf-8",
                "application/json; charset=latin1",
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "application/octet-stream",
                "application/x-ndjson",
                "",
                "application/jsonx",
                "*/*"
            )
        },
        {
            weight: 1,
            arbitrary: fc.stringMatching(/^[a-z]{1,10}\/[a-z+.-]{1,20}(; ?[a-z]{1,8}=[a-z0-9-]{0,10})?$/)
        }
    );
    const authorization = fc.constantFrom(
        `Bearer ${fuzzKey.key}`,
        `Bearer ${fuzzKey.key}`,
        `Bearer ${limitedKey}`,
        "",
        "Bearer ",
        "Bearer qdx_notakey",
        `Basic ${fuzzKey.key}`,
        `bearer ${fuzzKey.key}`,
        `Bearer ${fuzzKey.key}x`
    );
    const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,200}$/);
    const extraHeaders = fc.dictionary(
        fc.oneof(
            fc.stringMatching(/^x-[a-z0-9-]{1,20}$/),
            fc.constantFrom("x-request-id", "accept", "content-encoding", "origin", "x-forwarded-for", "idempotency-key", "anthropic-version", "openai-organization")
        ),
        headerValue,
        { maxKeys: 4 }
    );
    const queryValue = fc.oneof(
        weird.map(percentEncode),
        fc.constantFrom("%00", "%FF", "%C0%AF", "%E0%80", "%", "%zz", "-1", "1e309", "9".repeat(400), "all", "2026-12-07", "true")
    );
    const query = fc
        .array(fc.tuple(fc.oneof(fc.constantFrom("key_id", "day", "model", "stream", "limit", "after", "format"), fc.string({ maxLength: 10 }).map(percentEncode)), queryValue), {
            maxLength: 4
        })
        .map((pairs) => (pairs.length === 0 ? "" : `?${pairs.map(([k, v]) => `${k}=${v}`).join("&")}`));
    const pathParam = fc.oneof(
        fc.constantFrom(modelId, fuzzKey.id, "no-such-thing", "..", "%2e%2e", "%00", "%ZZ", "%C0%AF", "a".repeat(300), "a%2Fb", "%F0%9F%98%80"),
        fc.string({ maxLength: 30 }).map(percentEncode)
    );
    return fc
        .record({
            operation: fc.constantFrom(...operations),
            wrongMethod: fc.option(fc.constantFrom(...methods), { freq: 8 }),
            param: pathParam,
            query,
            body,
            contentType,
            authorization,
            extraHeaders
        })
        .map(({ operation, wrongMethod, param, query, body, contentType, authorization, extraHeaders }) => {
            // The fuzz key must keep working and the model must stay loaded: no path aims
            // a delete, an unload or a key change at them.
            const method = wrongMethod ?? operation.method;
            const destructive = method === "DELETE" || /unload|admin\/keys/.test(operation.path);
            const safeParam = destructive && (param === modelId || param === fuzzKey.id) ? "no-such-thing" : param;
            const headers: Record<string, string> = { ...extraHeaders };
            if (contentType !== "" && body.bytes !== null) headers["content-type"] = contentType;
            if (authorization !== "") headers.authorization = authorization;
            const sendsBody = method !== "GET" && method !== "HEAD" && method !== "OPTIONS";
            return {
                method,
                route: operation.path,
                path: operation.path.replace(/\{[^}]+\}/g, safeParam) + query,
                headers,
                body: sendsBody ? body.bytes : null,
                label: body.label
            };
        });
}

/** encodeURIComponent, or for a string it refuses (a lone surrogate) every UTF-8 byte escaped. */
function percentEncode(text: string): string {
    try {
        return encodeURIComponent(text);
    } catch {
        return [...Buffer.from(text, "utf8")].map((byte) => `%${byte.toString(16).padStart(2, "0").toUpperCase()}`).join("");
    }
}

function mb(bytes: number): number {
    return Math.round((bytes / 1024 / 1024) * 10) / 10;
}
