import type { OpenAIUsage } from "@quandex/protocol";
import type { RunCounts } from "../../inference/InferenceRun.js";

/** OpenAI's usage object: the counts, with the reused prompt tokens in `prompt_tokens_details.cached_tokens`. */
export function openaiUsage(counts: RunCounts): OpenAIUsage {
    return {
        prompt_tokens: counts.prompt_tokens,
        completion_tokens: counts.completion_tokens,
        total_tokens: counts.total_tokens,
        prompt_tokens_details: { cached_tokens: counts.cached_tokens }
    };
}
