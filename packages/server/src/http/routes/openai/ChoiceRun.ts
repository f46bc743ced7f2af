import type { PreparedEvent, PreparedGeneration } from "@quandex/engine";
import { QuandexError, type FinishReason, type OpenAIUsage } from "@quandex/protocol";
import type { Admission } from "../../AdmissionHooks.js";

/** One event of one choice. */
export interface ChoiceEvent {
    index: number;
    event: PreparedEvent;
}

export interface ChoiceResult {
    text: string;
    finishReason: FinishReason;
}

/**
 * The choices of one OpenAI request (one per prompt) running together on the native path: their
 * event streams merged in arrival order, tagged with the choice index. The request is admitted
 * once; its usage is recorded once, summed, when the last choice finishes, and its quota is given
 * back when it was refused before any choice reached the engine (as `withAdmission` does for one).
 * A failing choice aborts the others through `abort`.
 */
export class ChoiceRun {
    readonly usage: OpenAIUsage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
    private finished = 0;
    private started = false;

    constructor(
        private readonly prepared: readonly PreparedGeneration[],
        private readonly admission: Admission,
        private readonly abort: (reason: unknown) => void
    ) {}

    get choices(): number {
        return this.prepared.length;
    }

    /** Every choice reached `done`. */
    get complete(): boolean {
        return this.finished === this.prepared.length;
    }

    async *events(): AsyncGenerator<ChoiceEvent> {
        try {
            for await (const tagged of merge(this.prepared.map((p) => p.events()), this.abort)) {
                const { event } = tagged;
                if (event.type === "started") this.started = true;
                if (event.type === "done") {
                    this.finished++;
                    this.usage.prompt_tokens += event.promptTokens;
                    this.usage.completion_tokens += event.completionTokens;
                    this.usage.total_tokens = this.usage.prompt_tokens + this.usage.completion_tokens;
                    if (this.complete) {
                        await this.admission.complete({ promptTokens: this.usage.prompt_tokens, completionTokens: this.usage.completion_tokens });
                    }
                }
                yield tagged;
            }
        } catch (error) {
            if (!this.started && error instanceof QuandexError && error.status === 503) await this.admission.refund();
            throw error;
        }
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
