import type { FastifyRequest } from "fastify";
import type { EmbeddingResult, ToolCall } from "@quandex/engine";
import type { QuandexError } from "@quandex/protocol";
import type { StreamTransport } from "../streaming/StreamTransport.js";
import type { EmbeddingRequest, GenerationRequest } from "./InferenceRequest.js";
import type { ChoiceResult, InferenceRun, RunCounts } from "./InferenceRun.js";

/** Every choice of a run that finished, in choice order. */
export interface RunResult {
    readonly choices: readonly ChoiceResult[];
    /** Usage in OpenAI's names, with `cached_tokens` (reused prompt tokens) beside it for the dialects that report it. */
    readonly usage: RunCounts;
}

/**
 * How one dialect streams a run. Each method returns the frame(s) to send, already encoded for
 * the dialect's transport, or `undefined` to send nothing.
 */
export interface StreamRenderer {
    /** Choice `index` got its sequence and the engine is evaluating its prompt. */
    started?(index: number): string | undefined;
    text(index: number, text: string): string | undefined;
    /** Choice `index` called a tool (`position` counts its calls from 0). Dialects that cannot stream calls send nothing and report them at the end. */
    toolCall?(index: number, call: ToolCall, position: number): string | undefined;
    finished(choice: ChoiceResult): string | undefined;
    /** After every choice finished: the closing frames (a usage chunk, `[DONE]`, `message_stop`…). */
    end(result: RunResult): string;
}

/** How one dialect answers one run, built per request once the run is admitted. */
export interface GenerationRenderer<Json> {
    json(result: RunResult): Json;
    stream(): StreamRenderer;
}

/**
 * A dialect for generations is a parser and a renderer, nothing else: admission, the queue, the
 * run, accounting, keep-alives and error frames are the one request path's (`inferenceHandlers.ts`).
 */
export interface GenerationDialect<Body, Json> {
    /** Body → the internal request. @throws QuandexError `invalid_parameter` naming the field. */
    parse(body: Body, request: FastifyRequest): GenerationRequest;
    renderer(body: Body, run: InferenceRun): GenerationRenderer<Json>;
    /** How its streams are framed (SSE, NDJSON), kept alive and ended by an error. Defaults to SSE with `: ping`. */
    readonly transport?: StreamTransport;
}

/** A dialect for embeddings. */
export interface EmbeddingDialect<Body, Json> {
    parse(body: Body, request: FastifyRequest): EmbeddingRequest;
    render(body: Body, model: string, result: EmbeddingResult): Json;
}

/** How a dialect writes an error body (OpenAI's shape unless a dialect has its own). */
export type ErrorRenderer = (error: QuandexError) => unknown;
