import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
    APIConnectionError,
    APIError,
    APITimeoutError,
    APIUserAbortError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    ModelLoadingError,
    NotFoundError,
    PermissionDeniedError,
    QuandexClient,
    QuandexError,
    RateLimitError,
    ServiceUnavailableError
} from "../src/index.js";
import { errorResponse, scriptedFetch, sseBody, chunk } from "./helpers/fakeFetch.js";

type ErrorClass = abstract new (...args: never[]) => Error;

function client(fetchImpl: typeof fetch, extra: Record<string, unknown> = {}): QuandexClient {
    return new QuandexClient({ apiKey: "qdx_test", baseURL: "http://quandex.test/v1", fetch: fetchImpl, maxRetries: 0, ...extra });
}

const cases: Array<[status: number, code: string, type: string, expected: ErrorClass]> = [
    [400, "invalid_parameter", "invalid_request_error", BadRequestError],
    [400, "context_length_exceeded", "invalid_request_error", BadRequestError],
    [405, "method_not_allowed", "invalid_request_error", BadRequestError],
    [413, "payload_too_large", "invalid_request_error", BadRequestError],
    [415, "unsupported_media_type", "invalid_request_error", BadRequestError],
    [401, "invalid_api_key", "authentication_error", AuthenticationError],
    [403, "insufficient_scope", "permission_error", PermissionDeniedError],
    [404, "model_not_found", "not_found_error", NotFoundError],
    [429, "rate_limit_exceeded", "rate_limit_error", RateLimitError],
    [429, "daily_quota_exceeded", "rate_limit_error", RateLimitError],
    [500, "internal_error", "server_error", InternalServerError],
    [503, "server_busy", "service_unavailable", ServiceUnavailableError],
    [503, "model_loading", "service_unavailable", ModelLoadingError]
];

describe("error mapping", () => {
    for (const [status, code, type, expected] of cases) {
        it(`maps ${status} ${code} to ${expected.name} with every field set`, async () => {
            const { fetch } = scriptedFetch(errorResponse(status, code, type, { "x-request-id": "req_42" }, "temperature"));
            const error = await client(fetch)
                .generate({ model: "m", prompt: "p" })
                .then(
                    () => assert.fail("expected an error"),
                    (e: unknown) => e
                );
            assert.ok(error instanceof expected, `${String(error)} is a ${expected.name}`);
            assert.ok(error instanceof APIError && error instanceof QuandexError);
            assert.equal(error.constructor, expected, "the most specific class");
            assert.equal(error.name, expected.name);
            assert.equal(error.status, status);
            assert.equal(error.code, code);
            assert.equal(error.type, type);
            assert.equal(error.param, "temperature");
            assert.equal(error.message, `${code} happened`);
            assert.equal(error.requestId, "req_42");
            assert.equal(error.headers.get("x-request-id"), "req_42");
            assert.deepEqual(error.body, { error: { code, message: `${code} happened`, type, param: "temperature" } });
        });
    }

    it("ModelLoadingError is a ServiceUnavailableError", () => {
        assert.ok(new ModelLoadingError(503, {}) instanceof ServiceUnavailableError);
    });

    it("keeps a non-JSON error body (a proxy's HTML) and still maps the status", async () => {
        const { fetch } = scriptedFetch(new Response("<html>Bad gateway</html>", { status: 502 }));
        const error = await client(fetch)
            .getStats()
            .catch((e: unknown) => e);
        assert.ok(error instanceof InternalServerError);
        assert.equal(error.status, 502);
        assert.equal(error.code, null);
        assert.equal(error.requestId, null);
        assert.equal(error.body, "<html>Bad gateway</html>");
        assert.match(error.message, /^502 <html>Bad gateway/);
    });

    it("an `event: error` frame in a stream throws the class of its type", async () => {
        const frames: Array<[code: string, type: string, expected: ErrorClass, status: number]> = [
            ["internal_error", "server_error", InternalServerError, 500],
            ["model_unavailable", "service_unavailable", ServiceUnavailableError, 503],
            ["server_shutdown", "service_unavailable", ServiceUnavailableError, 503],
            ["context_length_exceeded", "invalid_request_error", BadRequestError, 400]
        ];
        for (const [code, type, expected, status] of frames) {
            const { fetch } = scriptedFetch(
                (request) => sseBody([chunk("Once"), `event: error\ndata: ${JSON.stringify({ error: { code, message: "boom", type, param: null } })}\n\n`], request.signal).response
            );
            const texts: string[] = [];
            const error = await (async () => {
                for await (const c of client(fetch).streamGenerate({ model: "m", prompt: "p" })) texts.push(c.text);
            })().catch((e: unknown) => e);
            assert.deepEqual(texts, ["Once"], "chunks before the error arrive");
            assert.ok(error instanceof expected && error instanceof APIError, `${code} -> ${String(error)}`);
            assert.equal(error.status, status);
            assert.equal(error.code, code);
            assert.equal(error.message, "boom");
            assert.equal(error.requestId, "req_stream");
        }
    });

    it("a stream frame takes its status from the code, else from the type", () => {
        const frame = (code: string, type: string) => APIError.fromStreamFrame({ error: { code, message: "m", type, param: null } });
        assert.equal(frame("payload_too_large", "invalid_request_error").status, 413);
        assert.ok(frame("model_loading", "service_unavailable") instanceof ModelLoadingError);
        const future = frame("some_future_code", "permission_error");
        assert.ok(future instanceof PermissionDeniedError);
        assert.equal(future.status, 403);
        assert.equal(APIError.fromStreamFrame("garbage").status, 500);
    });

    it("a refused connection is an APIConnectionError naming the cause", async () => {
        const refused = new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:9") });
        const error = await client(scriptedFetch(refused).fetch)
            .listModels()
            .catch((e: unknown) => e);
        assert.ok(error instanceof APIConnectionError && !(error instanceof APITimeoutError));
        assert.match(error.message, /ECONNREFUSED/);
        assert.equal(error.cause, refused);
    });

    it("a request past its timeout is an APITimeoutError (an APIConnectionError)", async () => {
        const hang = scriptedFetch(
            (request) => new Promise<Response>((_resolve, reject) => request.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))))
        );
        const error = await client(hang.fetch, { timeout: 20 })
            .listModels()
            .catch((e: unknown) => e);
        assert.ok(error instanceof APITimeoutError && error instanceof APIConnectionError);
    });

    it("a fired signal is an APIUserAbortError, before or during the request", async () => {
        const hang = scriptedFetch(
            (request) => new Promise<Response>((_resolve, reject) => request.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))))
        );
        const controller = new AbortController();
        const pending = client(hang.fetch, { maxRetries: 3 }).listModels({ signal: controller.signal });
        setTimeout(() => controller.abort(), 10);
        assert.ok((await pending.catch((e: unknown) => e)) instanceof APIUserAbortError);
        assert.equal(hang.requests.length, 1, "an abort is never retried");

        const already = await client(hang.fetch)
            .listModels({ signal: AbortSignal.abort() })
            .catch((e: unknown) => e);
        assert.ok(already instanceof APIUserAbortError);
        assert.equal(hang.requests.length, 1, "nothing is sent for an aborted signal");
    });
});
