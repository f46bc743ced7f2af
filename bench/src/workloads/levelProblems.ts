import type { LevelMetrics } from "../metrics.js";
import type { LoadPlan } from "../runLoad.js";

/** Correctness checks on a set of levels: failures, no tokens, or requests that did not run to max_tokens. */
export function levelProblems(what: string, levels: readonly LevelMetrics[], plan: LoadPlan): string[] {
    const problems: string[] = [];
    for (const level of levels) {
        const at = `${what} at concurrency ${level.concurrency}`;
        if (level.failed > 0) problems.push(`${at}: ${level.failed} request(s) failed: ${level.errors.join("; ")}`);
        if (level.totalOutputTokens === 0) problems.push(`${at}: no tokens received`);
        if (level.wrongLength > 0) {
            problems.push(`${at}: ${level.wrongLength} request(s) did not generate exactly max_tokens=${plan.maxTokens} tokens despite ignore_eos`);
        }
    }
    return problems;
}
