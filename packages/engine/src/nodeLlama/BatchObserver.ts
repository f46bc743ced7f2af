import type { BatchItem, PrioritizedBatchItem } from "node-llama-cpp";

interface Tracker {
    maxBatch: number;
}

/**
 * Sees every batch node-llama-cpp dispatches for a context, through its public
 * `itemPrioritizationStrategy` hook, and records for each running generation the largest number
 * of sequences decoded together while it ran. The strategy itself shares the batch fairly: each
 * sequence with pending tokens gets an equal share, and what is left goes to the longest.
 *
 * node-llama-cpp calls the strategy synchronously right before it starts the batch's decode on its
 * thread, so `onDispatch` also tells the runner that a decode is under way (see `DispatchWaker`),
 * and how many tokens it holds, in time to choose the threads that decode them.
 */
export class BatchObserver {
    private readonly active = new Set<Tracker>();

    /** @param onDispatch called for every batch, just before node-llama-cpp starts decoding it. */
    constructor(private readonly onDispatch: (tokens: number) => void = () => {}) {}

    readonly strategy = ({ items, size }: { items: readonly BatchItem[]; size: number }): PrioritizedBatchItem[] => {
        const sequences = items.length;
        for (const tracker of this.active) if (sequences > tracker.maxBatch) tracker.maxBatch = sequences;
        const batch = shareFairly(items, size);
        let tokens = 0;
        for (const entry of batch) tokens += entry.processAmount;
        this.onDispatch(tokens);
        return batch;
    };

    track(): { readonly maxBatch: number; end(): void } {
        const tracker: Tracker = { maxBatch: 0 };
        this.active.add(tracker);
        return {
            get maxBatch() {
                return Math.max(1, tracker.maxBatch);
            },
            end: () => {
                this.active.delete(tracker);
            }
        };
    }
}

function shareFairly(items: readonly BatchItem[], size: number): PrioritizedBatchItem[] {
    const share = Math.max(1, Math.floor(size / Math.max(1, items.length)));
    let left = size;
    const result: PrioritizedBatchItem[] = [];
    for (const item of items) {
        if (left <= 0) break;
        const amount = Math.min(item.tokens.length, share, left);
        result.push({ item, processAmount: amount });
        left -= amount;
    }
    for (const entry of result) {
        if (left <= 0) break;
        const extra = Math.min(entry.item.tokens.length - entry.processAmount, left);
        entry.processAmount += extra;
        left -= extra;
    }
    return result;
}
