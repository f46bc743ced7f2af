import { Readable } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import { QuandexError, type FinishReason, type OpenAIUsage } from "@quandex/protocol";
import { dataFrame, doneFrame, eventFrame, pingFrame } from "../../../streaming/sseFrames.js";
import { withKeepAlive } from "../../../streaming/withKeepAlive.js";
import { toQuandexError } from "../../errorReply.js";
import type { Lifecycle } from "../../Lifecycle.js";
import { requestSignal } from "../requestSignal.js";
import type { ChoiceEvent, ChoiceResult, ChoiceRun } from "./ChoiceRun.js";

/** The signals of one request with several choices. */
export interface RequestSignals {
    /** Fires when the client goes away or the shutdown grace period ends. */
    readonly request: AbortSignal;
    /** `request`, or a sibling choice ended the request: what the engine gets. */
    readonly engine: AbortSignal;
    abortChoices(reason: unknown): void;
}

export function requestSignals(request: FastifyRequest, reply: FastifyReply, lifecycle: Lifecycle): RequestSignals {
    const fromRequest = requestSignal(request, reply, lifecycle);
    const choices = new AbortController();
    return { request: fromRequest, engine: AbortSignal.any([fromRequest, choices.signal]), abortChoices: (reason) => choices.abort(reason) };
}

/** The payloads of one dialect's stream; `undefined` sends nothing. */
export interface ChunkFormat {
    started(index: number): object | undefined;
    text(index: number, text: string): object | undefined;
    finished(index: number, reason: FinishReason): object;
    /** The last chunk, after every choice finished; `undefined` without `stream_options.include_usage`. */
    usage(usage: OpenAIUsage): object | undefined;
}

/** Runs every choice to its end and returns their texts, in choice order. */
export async function collectChoices(run: ChoiceRun, signals: RequestSignals): Promise<ChoiceResult[]> {
    const texts: string[] = Array.from({ length: run.choices }, () => "");
    const reasons: Array<FinishReason | undefined> = [];
    for await (const { index, event } of run.events()) {
        if (event.type === "text") texts[index] += event.text;
        else if (event.type === "done") reasons[index] = event.finishReason;
    }
    if (!run.complete) throw abortError(signals.request);
    return texts.map((text, index) => ({ text, finishReason: reasons[index]! }));
}

/**
 * Streams the choices as `data:` chunks, then `data: [DONE]`. As in the JAN route, the headers go
 * out with the first event or the first keep-alive, whichever comes first, so a refusal while
 * queued (busy, timeout) is still an HTTP status when it is quick; a failure after the headers is
 * an `event: error` frame and the stream ends without `[DONE]`.
 */
export async function streamChoices(reply: FastifyReply, request: FastifyRequest, run: ChoiceRun, format: ChunkFormat, signals: RequestSignals, keepAliveMs: number): Promise<FastifyReply> {
    const events = run.events();
    const first = events.next();
    const early = await Promise.race([first, delay(keepAliveMs, signals.request)]);
    if (early !== "timeout" && early.done) throw abortError(signals.request);
    const frames = withKeepAlive(sseFrames(request, run, events, first, format, signals), keepAliveMs, pingFrame);
    return reply
        .code(200)
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("cache-control", "no-cache, no-transform")
        .header("x-accel-buffering", "no")
        .send(Readable.from(frames, { objectMode: false, highWaterMark: 16 * 1024 }));
}

async function* sseFrames(
    request: FastifyRequest,
    run: ChoiceRun,
    events: AsyncGenerator<ChoiceEvent>,
    first: Promise<IteratorResult<ChoiceEvent>>,
    format: ChunkFormat,
    signals: RequestSignals
): AsyncGenerator<string> {
    try {
        for (let next = await first; !next.done; next = await events.next()) {
            const { index, event } = next.value;
            const payload =
                event.type === "started" ? format.started(index) : event.type === "text" ? format.text(index, event.text) : format.finished(index, event.finishReason);
            if (payload !== undefined) yield dataFrame(payload);
        }
        if (run.complete) {
            const last = format.usage(run.usage);
            if (last !== undefined) yield dataFrame(last);
            yield doneFrame;
            return;
        }
        const reason: unknown = signals.request.reason;
        if (reason instanceof QuandexError) yield eventFrame("error", reason.toBody());
    } catch (error) {
        const reason: unknown = signals.request.reason;
        if (signals.request.aborted && !(reason instanceof QuandexError)) return;
        yield eventFrame("error", toQuandexError(reason instanceof QuandexError ? reason : error, request).toBody());
    } finally {
        await events.return(undefined);
    }
}

function abortError(signal: AbortSignal): QuandexError {
    const reason: unknown = signal.reason;
    return reason instanceof QuandexError ? reason : new QuandexError("internal_error", { detail: "the generation ended without a result." });
}

function delay(ms: number, signal: AbortSignal): Promise<"timeout"> {
    return new Promise((resolve) => {
        const timer = setTimeout(() => resolve("timeout"), ms);
        signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
    });
}
