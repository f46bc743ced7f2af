import { ServerSentEventDecoder } from "@quandex/protocol/sse";
import { ApiError } from "./ApiError.js";

export type HttpMethod = "GET" | "POST" | "PATCH" | "DELETE";

/** One server-sent event with its data parsed as JSON where it is JSON (`[DONE]` stays a string). */
export interface StreamEvent {
    event: string;
    data: unknown;
}

/**
 * The console's one door to the API. The key travels only in the `Authorization` header: never in a
 * URL, never in a cookie. Paths are absolute (`/v1/...`) because the console is served both at `/`
 * and at `/ui/` by the same server.
 */
export class Api {
    constructor(readonly key: string) {}

    async json<T>(method: HttpMethod, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
        const response = await this.#send(method, path, body, signal);
        const text = await response.text();
        try {
            return JSON.parse(text) as T;
        } catch {
            throw new ApiError(response.status, "invalid_response", `${method} ${path} answered ${response.status} with a body that is not JSON.`);
        }
    }

    /** POSTs `body` and yields the answer's server-sent events until it ends; aborting `signal` closes the request. */
    async *stream(path: string, body: unknown, signal: AbortSignal): AsyncGenerator<StreamEvent> {
        const response = await this.#send("POST", path, body, signal);
        if (!response.body) throw new ApiError(response.status, "invalid_response", `${path} answered without a body.`);
        const decoder = new ServerSentEventDecoder();
        const reader = response.body.getReader();
        try {
            for (;;) {
                const { done, value } = await reader.read();
                const events = done ? decoder.flush() : decoder.decode(value);
                for (const { event, data } of events) {
                    const parsed = parseData(data);
                    if (event === "error") throw errorFromBody(response.status, parsed);
                    yield { event, data: parsed };
                }
                if (done) return;
            }
        } finally {
            reader.releaseLock();
        }
    }

    async #send(method: HttpMethod, path: string, body: unknown, signal: AbortSignal | undefined): Promise<Response> {
        let response: Response;
        try {
            response = await fetch(path, {
                method,
                headers: { authorization: `Bearer ${this.key}`, ...(body !== undefined && { "content-type": "application/json" }) },
                ...(body !== undefined && { body: JSON.stringify(body) }),
                ...(signal && { signal }),
                credentials: "omit",
                cache: "no-store"
            });
        } catch (error) {
            throw ApiError.from(error);
        }
        if (response.ok) return response;
        let parsed: unknown;
        try {
            parsed = await response.json();
        } catch {
            parsed = undefined;
        }
        throw errorFromBody(response.status, parsed);
    }
}

function parseData(data: string): unknown {
    try {
        return JSON.parse(data);
    } catch {
        return data;
    }
}

/** `{"error": {code, message}}` is every error body the server sends (its catalogue); anything else still gets a message. */
function errorFromBody(status: number, body: unknown): ApiError {
    const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    if (error && typeof error.code === "string" && typeof error.message === "string") return new ApiError(status, error.code, error.message);
    return new ApiError(status, `http_${status}`, `The server answered ${status} without an error body.`);
}
