import type { FastifyReply, FastifyRequest } from "fastify";
import type { ToolCall } from "@quandex/engine";
import type { FinishReason } from "@quandex/protocol";
import { abortError, awaitFirstEvent, sendEventStream } from "../streaming/eventStream.js";
import type { StreamTransport } from "../streaming/StreamTransport.js";
import type { RunResult, StreamRenderer } from "./Dialect.js";
import type { ChoiceEvent, ChoiceResult, InferenceRun } from "./InferenceRun.js";
import type { RequestSignals } from "./RequestSignals.js";

/** The render step for a whole answer: runs every choice to its end and gathers the results, in choice order. */
export async function collectRun(run: InferenceRun, signals: RequestSignals): Promise<RunResult> {
    const results = new Results(run);
    const events = run.events();
    let ended = false;
    try {
        for (let next = await events.next(); !next.done; next = await events.next()) {
            const { index, event } = next.value;
            if (event.type === "text") results.text(index, event.text);
            else if (event.type === "tool_call") results.toolCall(index, event.call);
            else if (event.type === "done") results.finish(index, event);
            if (run.complete) break;
        }
        ended = run.complete;
    } finally {
        // Once every choice is done the answer goes out at once, and the engine's clean-up (freeing
        // the sequence) runs after it; an early end waits for the clean-up, so nothing outlives it.
        const closing = events.return(undefined);
        if (ended) closing.catch(() => undefined);
        else await closing;
    }
    if (!ended) throw abortError(signals.request);
    return results.result();
}

/**
 * The render step for a stream, for every dialect: headers with the first event or keep-alive, the
 * dialect's frames as events arrive, its closing frames at the end, and the transport's error frame
 * for a failure after the headers went out.
 */
export async function streamRun(
    reply: FastifyReply,
    request: FastifyRequest,
    run: InferenceRun,
    renderer: StreamRenderer,
    signals: RequestSignals,
    keepAliveMs: number,
    transport?: StreamTransport
): Promise<FastifyReply> {
    const events = run.events();
    const { first } = await awaitFirstEvent(events, signals.request, keepAliveMs);
    return sendEventStream(reply, request, frames(run, events, first, renderer, signals), signals.request, keepAliveMs, transport);
}

async function* frames(
    run: InferenceRun,
    events: AsyncGenerator<ChoiceEvent>,
    first: Promise<IteratorResult<ChoiceEvent>>,
    renderer: StreamRenderer,
    signals: RequestSignals
): AsyncGenerator<string> {
    const results = new Results(run);
    try {
        for (let next = await first; !next.done; next = await events.next()) {
            const { index, event } = next.value;
            let frame: string | undefined;
            if (event.type === "started") frame = renderer.started?.(index);
            else if (event.type === "text") frame = renderer.text(index, results.text(index, event.text));
            else if (event.type === "tool_call") frame = renderer.toolCall?.(index, event.call, results.toolCall(index, event.call));
            else frame = renderer.finished(results.finish(index, event));
            if (frame !== undefined) yield frame;
            // The closing frames go out at once; the engine frees the sequence after them.
            if (run.complete) break;
        }
        if (!run.complete) throw abortError(signals.request);
        yield renderer.end(results.result());
    } finally {
        await events.return(undefined);
    }
}

type Done = Extract<ChoiceEvent["event"], { type: "done" }>;

/** Each choice's text and end, as they arrive. */
class Results {
    private readonly texts: string[];
    private readonly calls: ToolCall[][];
    private readonly choices: Array<ChoiceResult | undefined>;

    constructor(private readonly run: InferenceRun) {
        this.texts = Array.from({ length: run.choices }, () => "");
        this.calls = Array.from({ length: run.choices }, () => []);
        this.choices = Array.from({ length: run.choices }, () => undefined);
    }

    text(index: number, text: string): string {
        this.texts[index] += text;
        return text;
    }

    /** Books a call; returns its position among the choice's calls. */
    toolCall(index: number, call: ToolCall): number {
        return this.calls[index]!.push(call) - 1;
    }

    finish(index: number, done: Done): ChoiceResult {
        const finishReason: FinishReason = done.finishReason;
        const choice: ChoiceResult = { index, text: this.texts[index]!, toolCalls: this.calls[index]!, finishReason, done, queuedMs: this.run.queuedMs[index] ?? 0 };
        this.choices[index] = choice;
        return choice;
    }

    result(): RunResult {
        return { choices: this.choices.map((c) => c!), usage: { ...this.run.usage } };
    }
}
