import type { FinishReason, GenerateChunk, GenerateRequest, GenerateResponse } from "@quandex/protocol";
import type { QuandexClient } from "../client.js";
import type { RequestOptions } from "../core/RequestOptions.js";
import { QuandexError } from "../core/errors.js";
import { retryDefaults } from "../core/RetryPolicy.js";
import { Stream } from "../core/Stream.js";

/** The body of POST /v1/generate; `stream` is chosen by the method (generate or streamGenerate). */
export type GenerateParams = Omit<GenerateRequest, "stream">;

/** The wire GenerateResponse plus `text`, a shortcut for `choices[0].text`. */
export type GenerateResult = GenerateResponse & { readonly text: string };

/** The wire GenerateChunk plus `text` and `finish_reason`, shortcuts for `choices[0]`. */
export type GenerateStreamChunk = GenerateChunk & { readonly text: string; readonly finish_reason: FinishReason | null };

/** POST /v1/generate, plain and streamed. */
export class Generations {
    readonly #client: QuandexClient;

    constructor(client: QuandexClient) {
        this.#client = client;
    }

    async create(params: GenerateParams, options?: RequestOptions): Promise<GenerateResult> {
        const response = await this.#client.request<GenerateResponse>("POST", "/generate", { body: withoutStream(params) }, options);
        return withText(response);
    }

    stream(params: GenerateParams, options: RequestOptions = {}): Stream<GenerateStreamChunk> {
        // The server pings every 15 s while it works, so a minute of silence means a dead connection.
        const idleTimeoutMs = Math.min(options.timeout ?? this.#client.timeout, retryDefaults.streamIdleTimeoutMs);
        return Stream.fromSSE(
            (signal) => this.#client.openStream("POST", "/generate", { ...withoutStream(params), stream: true }, { ...options, signal }),
            (data) => withChunkShortcuts(parseChunk(data)),
            { signal: options.signal, idleTimeoutMs }
        );
    }
}

function withoutStream(params: GenerateParams): GenerateParams {
    // A JavaScript caller may pass `stream` anyway; the method, not the field, decides.
    const { stream: _ignored, ...rest } = params as GenerateRequest;
    return rest;
}

function parseChunk(data: string): GenerateChunk {
    try {
        return JSON.parse(data) as GenerateChunk;
    } catch (cause) {
        throw new QuandexError(`The server sent a stream chunk that is not JSON: ${data.slice(0, 200)}`, { cause });
    }
}

/**
 * The shortcuts are non-enumerable properties, so `JSON.stringify(result)` still gives exactly the
 * wire body (handy for logging and for `--json` output).
 */
function withText(response: GenerateResponse): GenerateResult {
    return Object.defineProperty(response, "text", { value: response.choices[0]?.text ?? "", enumerable: false }) as GenerateResult;
}

function withChunkShortcuts(chunk: GenerateChunk): GenerateStreamChunk {
    const choice = chunk.choices[0];
    return Object.defineProperties(chunk, {
        text: { value: choice?.text ?? "", enumerable: false },
        finish_reason: { value: choice?.finish_reason ?? null, enumerable: false }
    }) as GenerateStreamChunk;
}
