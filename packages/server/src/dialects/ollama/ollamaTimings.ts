import type { ChoiceResult, InferenceRun } from "../../inference/InferenceRun.js";

const ns = (ms: number): number => Math.max(0, Math.round(ms * 1e6));

/**
 * Ollama's timing fields, in nanoseconds, from the run's own clock readings: `load_duration` from
 * arrival to admission (the model loaded if it was not, the prompt rendered and tokenized),
 * `prompt_eval_duration` from the sequence's start to the first token, `eval_duration` from there to
 * the end. Queue time is in `total_duration` only, as Ollama's is.
 */
export function ollamaTimings(run: InferenceRun, choice: ChoiceResult): Record<string, number> {
    const now = performance.now();
    const end = run.completedAt || now;
    const started = run.startedAt || run.admittedAt;
    const first = run.firstTokenAt || end;
    return {
        total_duration: ns(now - run.receivedAt),
        load_duration: ns(run.admittedAt - run.receivedAt),
        prompt_eval_count: choice.done.promptTokens,
        prompt_eval_duration: ns(first - started),
        eval_count: choice.done.completionTokens,
        eval_duration: ns(end - first)
    };
}
