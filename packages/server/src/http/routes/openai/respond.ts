import type { FastifyReply, FastifyRequest } from "fastify";
import type { FinishReason, OpenAIUsage } from "@quandex/protocol";
import { abortError, awaitFirstEvent, sendEventStream } from "../../../streaming/eventStream.js";
import { dataFrame, doneFrame } from "../../../streaming/sseFrames.js";
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
 * Streams the choices as `data:` chunks, then `data: [DONE]`, with the JAN route's rules: headers
 * with the first event or keep-alive, and an `event: error` frame for a failure after them.
 */
export async function streamChoices(reply: FastifyReply, request: FastifyRequest, run: ChoiceRun, format: ChunkFormat, signals: RequestSignals, keepAliveMs: number): Promise<FastifyReply> {
    const events = run.events();
    const { first } = await awaitFirstEvent(events, signals.request, keepAliveMs);
    return sendEventStream(reply, request, sseFrames(run, events, first, format, signals), signals.request, keepAliveMs);
}

async function* sseFrames(
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
        if (!run.complete) throw abortError(signals.request);
        const last = format.usage(run.usage);
        if (last !== undefined) yield dataFrame(last);
        yield doneFrame;
    } finally {
        await events.return(undefined);
    }
}
