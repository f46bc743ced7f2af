import { rmSync } from "node:fs";
import { loopbackRequest } from "./loopbackHttp.js";
import { commonPrefix } from "./SlotRouter.js";

/** A prompt whose KV state was saved to a file (llama-server's `/slots/N?action=save`). */
interface Snapshot {
    owner: string;
    /** The tokens the file's KV state holds. */
    tokens: readonly number[];
    filename: string;
    /** Settles once the file is written: true, or false when the prefill or the save failed (then it is gone). */
    ready: Promise<boolean>;
    bytes: number;
    usedAt: number;
}

export interface SharedPrefixesOptions {
    /** llama-server's `--slot-save-path`: the folder the files go to, owned by this runner. */
    dir: string;
    /** A prompt is saved when it is this long and its slot held less than this of it; a file is restored when it gains this much. */
    minTokens: number;
    /** The files' total size at most; the least recently used go first. */
    maxBytes: number;
    onError: (what: string, error: unknown) => void;
}

/** What {@link SharedPrefixes.prepare} left in the slot. */
export interface PreparedSlot {
    /** Leading prompt tokens the slot holds for the request's cache key. */
    holds: number;
    /** How many of them were evaluated for this request (its prompt saved for others): not reused. */
    evaluated: number;
}

/**
 * Prompt prefixes shared across llama-server slots. A slot's KV cache serves only the slot, so
 * eight conversations that open with the same long system prompt would each evaluate it (llama-
 * server's own `--cache-ram` saves a slot's prompt only once the slot is reused, too late for a
 * burst). Quandex sees every request, so a long prompt that no slot holds is evaluated first on its
 * own (`n_predict: 0`), saved to a file (`/slots/N?action=save`, some tens of ms for 400 tokens of
 * an 85M model), and only then generated from. A request of the same cache key that arrives
 * meanwhile and shares a long prefix with it waits for that file and restores it into its own slot
 * (`action=restore`, a few ms), then evaluates only what differs.
 *
 * Exact: the saved cells were evaluated as one prompt batch, which is what a fresh evaluation of
 * the shared part computes (see nodeLlama/SequencePool.ts on batch sizes), and the snapshot stops
 * two tokens short of its prompt, so the request it came from still evaluates a batch of two.
 */
export class SharedPrefixes {
    private readonly snapshots: Snapshot[] = [];
    private clock = 0;
    private files = 0;
    /** Off after a save the server refused (it cannot save slots): requests go on without sharing. */
    private disabled = false;

    constructor(
        private readonly url: string,
        private readonly options: SharedPrefixesOptions
    ) {}

    /**
     * Readies `slot` for `prompt` before the generation: restores a snapshot of the same key that
     * shares more of the prompt than the slot holds, or, for a long prompt nobody holds, evaluates
     * and saves it on this slot. `holds` is `slotHolds` when nothing was done, and 0 after a failure
     * (the whole prompt is evaluated).
     */
    async prepare(slot: number, prompt: readonly number[], cacheKey: string | null, slotHolds: number, signal: AbortSignal): Promise<PreparedSlot> {
        const { minTokens } = this.options;
        if (this.disabled || cacheKey === null || prompt.length < minTokens) return { holds: slotHolds, evaluated: 0 };
        let best: Snapshot | undefined;
        let bestLength = 0;
        for (const snapshot of this.snapshots) {
            if (snapshot.owner !== cacheKey) continue;
            const length = commonPrefix(snapshot.tokens, prompt);
            if (length > bestLength) {
                best = snapshot;
                bestLength = length;
            }
        }
        if (best && bestLength >= slotHolds + minTokens) {
            best.usedAt = ++this.clock;
            if (!(await abortable(best.ready, signal))) return { holds: slotHolds, evaluated: 0 };
            const restored = await this.slotAction(slot, "restore", best.filename, signal);
            return { holds: restored === null ? 0 : bestLength, evaluated: 0 };
        }
        if (prompt.length - slotHolds < minTokens) return { holds: slotHolds, evaluated: 0 };
        return this.save(slot, prompt, cacheKey, slotHolds, signal);
    }

    /** Deletes every file (the runner's dispose). */
    dispose(): void {
        this.snapshots.length = 0;
        rmSync(this.options.dir, { recursive: true, force: true });
    }

    private async save(slot: number, prompt: readonly number[], owner: string, slotHolds: number, signal: AbortSignal): Promise<PreparedSlot> {
        const tokens = prompt.slice(0, prompt.length - 2);
        let settle!: (ok: boolean) => void;
        const snapshot: Snapshot = { owner, tokens, filename: `prefix-${++this.files}.bin`, ready: new Promise((resolve) => (settle = resolve)), bytes: 0, usedAt: ++this.clock };
        // Listed before anything awaits, so a request arriving meanwhile waits for it instead of evaluating the same prefix.
        this.snapshots.push(snapshot);
        let holds = 0;
        try {
            const res = await loopbackRequest(this.url, "/completion", { body: { prompt: tokens, n_predict: 0, cache_prompt: slotHolds > 0, id_slot: slot }, signal });
            const text = await res.text();
            if (res.status !== 200) throw new Error(`the prefill answered ${res.status}: ${text.slice(0, 200)}`);
            holds = tokens.length;
        } catch (error) {
            if (!signal.aborted) this.options.onError("evaluate a prompt prefix to share", error);
        }
        const saved = holds > 0 ? await this.slotAction(slot, "save", snapshot.filename, signal) : null;
        if (saved === null) {
            this.drop(snapshot);
            settle(false);
        } else {
            snapshot.bytes = saved;
            settle(true);
            this.evict();
        }
        return { holds, evaluated: Math.max(0, holds - slotHolds) };
    }

    /**
     * `/slots/N?action=save|restore`; the bytes written or read, or null when it failed. A refused
     * save turns sharing off (this server cannot save slots); a failed restore does not (its file
     * may have been evicted while the request waited).
     */
    private async slotAction(slot: number, action: "save" | "restore", filename: string, signal: AbortSignal): Promise<number | null> {
        try {
            const res = await loopbackRequest(this.url, `/slots/${slot}?action=${action}`, { body: { filename }, signal });
            const body = await res.json<{ n_written?: number; n_read?: number; error?: { message?: string } }>();
            if (res.status !== 200) throw new Error(`llama-server answered ${res.status}: ${body.error?.message ?? ""}`);
            return (action === "save" ? body.n_written : body.n_read) ?? 0;
        } catch (error) {
            if (!signal.aborted) {
                if (action === "save") this.disabled = true;
                this.options.onError(action === "save" ? "save a slot's prompt (sharing prefixes across slots is off from now on)" : "restore a shared prompt prefix", error);
            }
            return null;
        }
    }

    private evict(): void {
        const total = () => this.snapshots.reduce((sum, s) => sum + s.bytes, 0);
        while (total() > this.options.maxBytes) {
            const ready = this.snapshots.filter((s) => s.bytes > 0);
            if (ready.length <= 1) break;
            this.drop(ready.reduce((a, b) => (b.usedAt < a.usedAt ? b : a)));
        }
    }

    private drop(snapshot: Snapshot): void {
        const index = this.snapshots.indexOf(snapshot);
        if (index !== -1) this.snapshots.splice(index, 1);
        rmSync(`${this.options.dir}/${snapshot.filename}`, { force: true });
    }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | false> {
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
        const onAbort = (): void => resolve(false);
        signal.addEventListener("abort", onAbort, { once: true });
        void promise.then((value) => {
            signal.removeEventListener("abort", onAbort);
            resolve(value);
        });
    });
}
