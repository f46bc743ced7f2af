/** Test doubles for `fetch`: scripted answers, recorded requests, and SSE bodies that honour abort. */

export interface RecordedRequest {
    url: string;
    method: string;
    headers: Headers;
    body: unknown;
    signal: AbortSignal;
}

/** One scripted answer: a Response, an error to throw, or a function of the request. */
export type Reply = Response | Error | ((request: RecordedRequest) => Response | Promise<Response>);

export interface ScriptedFetch {
    fetch: typeof fetch;
    requests: RecordedRequest[];
}

/** A fetch that answers with `replies` in order; the last one repeats when the script runs out. */
export function scriptedFetch(...replies: Reply[]): ScriptedFetch {
    const requests: RecordedRequest[] = [];
    const fetchImpl = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
        const request: RecordedRequest = {
            url: String(input),
            method: init.method ?? "GET",
            headers: new Headers(init.headers),
            body: typeof init.body === "string" ? JSON.parse(init.body) : undefined,
            signal: init.signal ?? new AbortController().signal
        };
        requests.push(request);
        const reply = replies[Math.min(requests.length - 1, replies.length - 1)];
        if (reply === undefined) throw new Error("scriptedFetch: no reply scripted");
        if (reply instanceof Error) throw reply;
        if (typeof reply === "function") return reply(request);
        return reply.clone();
    };
    return { fetch: fetchImpl as typeof fetch, requests };
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
    return new Response(JSON.stringify(body), {
        status,
        headers: { "content-type": "application/json", "x-request-id": "req_test", ...headers }
    });
}

export function errorResponse(status: number, code: string, type: string, headers: Record<string, string> = {}, param: string | null = null): Response {
    return jsonResponse(status, { error: { code, message: `${code} happened`, type, param } }, headers);
}

export interface SSEBody {
    response: Response;
    /** Resolves when the client cancels the body or aborts the request. */
    closed: Promise<"cancel" | "abort">;
}

/**
 * An SSE answer that sends `chunks` and then, with `keepOpen`, stays open like a slow generation.
 * Aborting `signal` errors the body the way undici does, so the client sees what it would in Node.
 */
export function sseBody(chunks: Array<string | Uint8Array>, signal: AbortSignal, options: { keepOpen?: boolean } = {}): SSEBody {
    const encoder = new TextEncoder();
    let markClosed: (how: "cancel" | "abort") => void = () => {};
    const closed = new Promise<"cancel" | "abort">((resolve) => (markClosed = resolve));
    let index = 0;
    const body = new ReadableStream<Uint8Array>({
        start(controller) {
            signal.addEventListener("abort", () => {
                markClosed("abort");
                try {
                    controller.error(new DOMException("This operation was aborted", "AbortError"));
                } catch {
                    // already closed
                }
            });
        },
        async pull(controller) {
            if (index < chunks.length) {
                const chunk = chunks[index++]!;
                controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
                return;
            }
            if (!options.keepOpen) {
                controller.close();
                return;
            }
            await new Promise(() => {}); // never: only an abort or a cancel ends it
        },
        cancel() {
            markClosed("cancel");
        }
    });
    return {
        response: new Response(body, { status: 200, headers: { "content-type": "text/event-stream", "x-request-id": "req_stream" } }),
        closed
    };
}

/** A wire chunk as the server sends it. */
export function chunk(text: string, finishReason: "stop" | "length" | null = null, extra: Record<string, unknown> = {}): string {
    return `data: ${JSON.stringify({ id: "gen_1", model: "m", choices: [{ text, finish_reason: finishReason }], ...extra })}\n\n`;
}

export const usage = { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 };
export const metalStats = {
    backend: "cpu",
    mps_allocated: "0B",
    mps_allocated_bytes: 0,
    batch_size: 1,
    processing_time: "12ms",
    processing_time_ms: 12,
    queue_time_ms: 0,
    tokens_per_second: 250,
    gpu_layers: 0
};

/** A sleep that records its delays and returns at once. */
export function recordingSleep(): { sleep: (ms: number) => Promise<void>; delays: number[] } {
    const delays: number[] = [];
    return {
        delays,
        sleep: async (ms: number) => {
            delays.push(ms);
        }
    };
}
