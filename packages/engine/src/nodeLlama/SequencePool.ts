import type { LlamaContext, LlamaContextSequence, Token } from "node-llama-cpp";

/** A sequence handed to one generation, with how much of its prompt was already evaluated. */
export interface PooledSequence {
    readonly sequence: LlamaContextSequence;
    /** Leading prompt tokens whose KV cells the sequence already holds: they are not evaluated again. */
    readonly reused: number;
}

interface Idle {
    sequence: LlamaContextSequence;
    /** Whose prompt the sequence last held (`null`: nobody may reuse it). */
    owner: string | null;
    /** Leading tokens whose KV cells a fresh evaluation would compute bit for bit (see the class comment). */
    trusted: number;
    usedAt: number;
}

/**
 * The sequences of one context, kept between requests with their evaluated tokens (their KV cells)
 * instead of disposed, so a request whose prompt starts like an earlier one (the next turn of a
 * chat re-sends the whole history) evaluates only what is new.
 *
 * `take` gives a request the idle sequence whose tokens share the longest prefix with its prompt,
 * among those its cache key may reuse; with no useful match it opens a sequence not used yet, or
 * takes the least recently used one (dropping what it held). The prefix is checked against the
 * sequence's real evaluated tokens, so one partly overwritten is re-evaluated from where it
 * differs. A sequence is in one request's hands at a time: `take` removes it from the idle set
 * before anything awaits.
 *
 * Reuse is exact: the reused cells are bit for bit what evaluating the prompt afresh computes, so
 * every logit (and every sampled token) is the one the request would get without reuse. That rests
 * on how llama.cpp's CPU backend multiplies matrices: a batch of two or more tokens goes through
 * tinyBLAS (llamafile's sgemm), a batch of one through ggml's vec_dot, and the two round
 * differently. A fresh prompt is one batch of many tokens, so only cells evaluated in batches of
 * two or more may be reused:
 * - only the prompt part of what a sequence evaluated is trusted, never the tokens it generated
 *   (decoded one at a time), so the next turn evaluates the last answer again, with its new
 *   message, in one batch;
 * - at least the prompt's last two tokens are evaluated, never one alone.
 * test/SequencePool.test.ts checks both against a fresh evaluation, probability for probability.
 */
export class SequencePool {
    private readonly idle: Idle[] = [];
    private opened = 0;
    private clock = 0;

    constructor(
        private readonly context: LlamaContext,
        private readonly size: number
    ) {}

    /**
     * @param cacheKey who may reuse what: a request reuses only sequences last used with the same
     *   key; `null` reuses nothing (and the sequence it gets keeps no owner).
     */
    async take(prompt: readonly number[], cacheKey: string | null): Promise<PooledSequence> {
        let best: Idle | undefined;
        let bestLength = 0;
        if (cacheKey !== null) {
            for (const candidate of this.idle) {
                if (candidate.owner !== cacheKey || candidate.sequence.needsCheckpoints) continue;
                const length = Math.min(candidate.trusted, candidate.sequence.compareContextTokens(prompt as Token[]).firstDifferentIndex);
                if (length > bestLength) {
                    best = candidate;
                    bestLength = length;
                }
            }
        }
        let sequence: LlamaContextSequence;
        if (best) {
            this.idle.splice(this.idle.indexOf(best), 1);
            sequence = best.sequence;
        } else if (this.opened < this.size) {
            this.opened++;
            sequence = this.context.getSequence();
        } else {
            // The least recently used: the cached prompts most likely to be asked for again stay.
            const oldest = this.idle.reduce((a, b) => (b.usedAt < a.usedAt ? b : a));
            this.idle.splice(this.idle.indexOf(oldest), 1);
            sequence = oldest.sequence;
        }
        // The prompt's last token is always evaluated (sampling needs its logits), and never alone:
        // a one-token batch rounds differently from the fresh prompt's batch.
        const reused = Math.min(bestLength, Math.max(0, prompt.length - 2));
        try {
            if (reused === 0) {
                if (sequence.nextTokenIndex > 0) await sequence.clearHistory();
            } else if (reused < sequence.nextTokenIndex) {
                await sequence.eraseContextTokenRanges([{ start: reused, end: sequence.nextTokenIndex }]);
            }
        } catch (error) {
            this.give(sequence, null, 0);
            throw error;
        }
        return { sequence, reused };
    }

    /**
     * Returns a sequence. `promptLength`: how many leading tokens it evaluated as its prompt, which
     * the next request of `owner` may reuse; 0 when the generation failed or was cut off, so what it
     * holds cannot be trusted (it is cleared on its next use). A one-token prompt was evaluated
     * alone, so it is not trusted either.
     */
    give(sequence: LlamaContextSequence, owner: string | null, promptLength: number): void {
        if (sequence.disposed) {
            this.opened--;
            return;
        }
        const trusted = promptLength >= 2 ? promptLength : 0;
        // An untrusted one is never matched (no owner) and is cleared when `take` hands it out again.
        this.idle.push({ sequence, owner: trusted > 0 ? owner : null, trusted, usedAt: ++this.clock });
    }
}
