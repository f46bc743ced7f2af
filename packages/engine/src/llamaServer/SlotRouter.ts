/** The slot a generation runs on, and whether llama-server may reuse what that slot holds. */
export interface SlotChoice {
    /** llama-server's `id_slot`. */
    slot: number;
    /** Whether to send `cache_prompt: true`: only when the slot last held this cache key's prompt. */
    cachePrompt: boolean;
    /** Leading prompt tokens the slot holds from its last request (llama-server's own count wins when it reports one). */
    reused: number;
}

interface Slot {
    busy: boolean;
    /** The tokens the slot's KV cache holds, as far as Quandex knows; `null` when unknown (a request cut off). */
    tokens: readonly number[] | null;
    owner: string | null;
    usedAt: number;
}

/**
 * Which llama-server slot each generation runs on. Quandex sees every request, so it sends each to
 * the free slot whose cached tokens share the longest prefix with its prompt (`id_slot`), among
 * the slots last used with the same cache key; with no useful match, to the least recently used
 * free slot. llama-server then reuses the shared prefix itself (`cache_prompt`), which is sent
 * only for a slot that last held the same key's prompt: a request never reuses another key's KV
 * state, so its timing cannot reveal another key's prompt.
 *
 * The scheduler runs at most `parallel` generations at once, so a free slot always exists.
 */
export class SlotRouter {
    private readonly slots: Slot[];
    private clock = 0;

    constructor(parallel: number) {
        this.slots = Array.from({ length: parallel }, () => ({ busy: false, tokens: [], owner: null, usedAt: 0 }));
    }

    take(prompt: readonly number[], cacheKey: string | null): SlotChoice {
        let best = -1;
        let bestLength = 0;
        let oldest = -1;
        this.slots.forEach((slot, index) => {
            if (slot.busy) return;
            if (oldest === -1 || slot.usedAt < this.slots[oldest]!.usedAt) oldest = index;
            if (cacheKey === null || slot.owner !== cacheKey || slot.tokens === null) return;
            const length = commonPrefix(slot.tokens, prompt);
            if (length > bestLength) {
                best = index;
                bestLength = length;
            }
        });
        if (oldest === -1) throw new Error("no free llama-server slot: more generations than `parallel` were started");
        const index = best === -1 ? oldest : best;
        const slot = this.slots[index]!;
        slot.busy = true;
        const cachePrompt = cacheKey !== null && slot.owner === cacheKey && slot.tokens !== null;
        return { slot: index, cachePrompt, reused: best === -1 ? 0 : Math.min(bestLength, Math.max(0, prompt.length - 1)) };
    }

    /** Frees a slot. `tokens`: what it now holds (prompt and generated), or `null` when a request was cut off and that is unknown. */
    give(slot: number, tokens: readonly number[] | null, owner: string | null): void {
        const entry = this.slots[slot];
        if (!entry) return;
        entry.busy = false;
        entry.tokens = tokens;
        entry.owner = tokens === null ? null : owner;
        entry.usedAt = ++this.clock;
    }
}

/** How many leading tokens two token lists share. */
export function commonPrefix(a: readonly number[], b: readonly number[]): number {
    const limit = Math.min(a.length, b.length);
    let i = 0;
    while (i < limit && a[i] === b[i]) i++;
    return i;
}
