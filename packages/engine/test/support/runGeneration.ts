import type { GenerationEvent, ModelRunner, SamplingOptions } from "../../src/Engine.js";

/** Greedy, 100 tokens, no stops: the settings of the golden text; override what a test varies. */
export const sampling = (over: Partial<SamplingOptions> = {}): SamplingOptions => ({
    temperature: 0,
    topP: 0.95,
    topK: 40,
    seed: 1,
    repeatPenalty: 1,
    ignoreEos: false,
    stop: [],
    maxTokens: 100,
    ...over
});

/** Runs one generation on a runner directly (no scheduler, no HTTP) and collects its text and final event. */
export async function runGeneration(runner: ModelRunner, prompt: string, s: SamplingOptions, signal = new AbortController().signal, cacheKey: string | null = null) {
    const promptTokens = await runner.tokenize(prompt);
    let text = "";
    let done: Extract<GenerationEvent, { type: "done" }> | undefined;
    for await (const event of runner.generate({ promptTokens, sampling: s, cacheKey }, signal)) {
        if (event.type === "text") text += event.text;
        else done = event;
    }
    return { text, done };
}
