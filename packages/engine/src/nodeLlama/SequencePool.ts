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
 * Reuse is exact: the prefix's KV cells are what evaluating it again would compute, and at least
 * the prompt's last token is always evaluated, so its logits (and every sampled token) are the ones
 * the request would get without reuse.
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
                const length = candidate.sequence.compareContextTokens(prompt as Token[]).firstDifferentIndex;
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
        // The prompt's last token is always evaluated: sampling needs its logits.
        const reused = Math.min(bestLength, Math.max(0, prompt.length - 1));
        try {
            if (reused === 0) {
                if (sequence.nextTokenIndex > 0) await sequence.clearHistory();
            } else if (reused < sequence.nextTokenIndex) {
                await sequence.eraseContextTokenRanges([{ start: reused, end: sequence.nextTokenIndex }]);
            }
        } catch (error) {
            this.give(sequence, null, false);
            throw error;
        }
        return { sequence, reused };
    }

    /**
     * Returns a sequence. `clean`: it ended normally, so its evaluated tokens can be trusted; a
     * sequence from a generation that failed or was cut off keeps nothing a later request could
     * trust (it is cleared on its next use).
     */
    give(sequence: LlamaContextSequence, owner: string | null, clean: boolean): void {
        if (sequence.disposed) {
            this.opened--;
            return;
        }
        // An unclean one is never matched (no owner) and is cleared when `take` hands it out again.
        this.idle.push({ sequence, owner: clean ? owner : null, usedAt: ++this.clock });
    }
}
