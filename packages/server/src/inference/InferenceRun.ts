import type { PreparedEvent, PreparedGeneration, RunnerResources, ToolCall } from "@quandex/engine";
import { QuandexError, type FinishReason } from "@quandex/protocol";
import type { Admission } from "../http/access/AdmissionHooks.js";

type Done = Extract<PreparedEvent, { type: "done" }>;

/** One event of one choice. */
export interface ChoiceEvent {
    index: number;
    event: PreparedEvent;
}

/** A choice that ran to its end. */
export interface ChoiceResult {
    index: number;
    text: string;
    /** The tools the model called, in order; a dialect reports such a choice as ended by them. */
    toolCalls: readonly ToolCall[];
    finishReason: FinishReason;
    /** The engine's closing event: token counts, batch size, generation time. */
    done: Done;
    /** Time this choice waited for a sequence. */
    queuedMs: number;
}

/** Token counts over every choice, in OpenAI's names (which JAN shares). */
export interface RunUsage {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
}

/** The run's counts beside the usage: prompt tokens reused from the prompt cache (part of `prompt_tokens`). */
export interface RunCounts extends RunUsage {
    cached_tokens: number;
}

/**
 * The run step of the one request path: the choices of one admitted request (one for JAN and
 * chat, one per prompt for OpenAI completions) running together on the native path, their event
 * streams merged in arrival order and tagged with the choice index.
 *
 * Accounting lives here, once for every dialect: the request's usage is recorded once, summed, when
 * the last choice finishes, and its daily quota is given back when it was refused before any choice
 * reached the engine (queue full, timeout, shutdown), so a client that retries a 503 never burns
 * quota. A failing choice aborts the others through `abort`.
 */
export class InferenceRun {
    readonly usage: RunCounts = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cached_tokens: 0 };
    /** The queue wait of each choice, once it got its sequence. */
    readonly queuedMs: number[];
    private finished = 0;
    private started = false;
    /** `performance.now()` of the first text of any choice (TTFT), 0 before it; for the request log and `/metrics`. */
    firstTokenAt = 0;
    /** `performance.now()` when the run was admitted (the model loaded, the prompt rendered): Ollama's `load_duration` ends here. */
    readonly admittedAt = performance.now();
    /** `performance.now()` when the first choice got its sequence and began evaluating its prompt, 0 before. */
    startedAt = 0;
    /** `performance.now()` when the last choice ended, 0 before. */
    completedAt = 0;
    /** Each choice's finish reason once it ended. */
    readonly finishReasons: Array<FinishReason | null>;
    /** Each choice's text, gathered only when the request log carries outputs (`server.log_prompts`). */
    outputs: string[] | null = null;

    constructor(
        private readonly prepared: readonly PreparedGeneration[],
        private readonly admission: Admission,
        private readonly abort: (reason: unknown) => void,
        /** When the request arrived (`performance.now()`): processing times count from here. */
        readonly receivedAt: number
    ) {
        this.queuedMs = prepared.map(() => 0);
        this.finishReasons = prepared.map(() => null);
    }

    get choices(): number {
        return this.prepared.length;
    }

    /** Prompt tokens over every choice, known at admission (Anthropic's `message_start` reports them first). */
    get promptTokens(): number {
        return this.prepared.reduce((sum, p) => sum + p.promptTokens, 0);
    }

    /** The canonical id of the model that runs the request. */
    get model(): string {
        return this.prepared[0]!.definition.id;
    }

    /** What the model holds, for `metal_stats`. */
    resources(): RunnerResources {
        return this.prepared[0]!.resources();
    }

    /** Every choice reached `done`. */
    get complete(): boolean {
        return this.finished === this.prepared.length;
    }

    async *events(): AsyncGenerator<ChoiceEvent> {
        const sources = this.prepared.map((p) => p.events());
        // A reader that stops after the last choice's end (to answer at once) ends nothing early.
        const abort = (reason: unknown): void => {
            if (!this.complete) this.abort(reason);
        };
        try {
            if (sources.length === 1) {
                // The common case (JAN, chat): read the one source directly, one generator hop per token.
                const source = sources[0]!;
                let finished = false;
                try {
                    for (let next = await source.next(); !next.done; next = await source.next()) {
                        const recording = this.account(0, next.value);
                        if (recording) await recording;
                        yield { index: 0, event: next.value };
                    }
                    finished = true;
                } finally {
                    if (!finished) abort(new Error("the request ended before its generation did"));
                    await source.return(undefined);
                }
                return;
            }
            for await (const tagged of merge(sources, abort)) {
                const recording = this.account(tagged.index, tagged.event);
                if (recording) await recording;
                yield tagged;
            }
        } catch (error) {
            // An upstream pool's 503 (its own 429, no healthy endpoint) comes after "started" but before any text: the client got nothing, so it pays nothing.
            if ((!this.started || (this.firstTokenAt === 0 && this.finished === 0)) && error instanceof QuandexError && error.status === 503) await this.admission.refund();
            throw error;
        }
    }

    /** Books one event; returns the usage write when it was the last choice's end (awaited only then, off the per-token path). */
    private account(index: number, event: PreparedEvent): Promise<void> | undefined {
        if (event.type === "text" || event.type === "tool_call") {
            if (this.firstTokenAt === 0) this.firstTokenAt = performance.now();
            if (this.outputs && event.type === "text") this.outputs[index] += event.text;
        } else if (event.type === "started") {
            if (!this.started) this.startedAt = performance.now();
            this.started = true;
            this.queuedMs[index] = event.queuedMs;
        } else if (event.type === "done") {
            this.finished++;
            this.finishReasons[index] = event.finishReason;
            if (this.complete) this.completedAt = performance.now();
            this.usage.prompt_tokens += event.promptTokens;
            this.usage.completion_tokens += event.completionTokens;
            this.usage.cached_tokens += event.cachedTokens;
            this.usage.total_tokens = this.usage.prompt_tokens + this.usage.completion_tokens;
            if (this.complete) return this.admission.complete({ promptTokens: this.usage.prompt_tokens, completionTokens: this.usage.completion_tokens });
        }
        return undefined;
    }
}

/**
 * Merges generators into one, in arrival order. One `next()` per source is in flight at a time.
 * On an early exit (error, or the consumer stopping) it calls `abort` first, so sources blocked in
 * the engine stop at once, then closes every source.
 */
async function* merge(sources: Array<AsyncGenerator<PreparedEvent>>, abort: (reason: unknown) => void): AsyncGenerator<ChoiceEvent> {
    type Pulled = { index: number; result: IteratorResult<PreparedEvent> };
    const pending = new Map<number, Promise<Pulled>>();
    const pull = (index: number): void => {
        const next = sources[index]!.next().then((result) => ({ index, result }));
        // A pull nobody awaits any more (after an early exit) must not become an unhandled rejection.
        next.catch(() => undefined);
        pending.set(index, next);
    };
    sources.forEach((_, index) => pull(index));
    let finished = false;
    try {
        while (pending.size > 0) {
            const { index, result } = await Promise.race(pending.values());
            if (result.done) {
                pending.delete(index);
                continue;
            }
            pull(index);
            yield { index, event: result.value };
        }
        finished = true;
    } finally {
        if (!finished) abort(new Error("the request ended before this choice did"));
        await Promise.allSettled(sources.map((source) => source.return(undefined)));
    }
}
