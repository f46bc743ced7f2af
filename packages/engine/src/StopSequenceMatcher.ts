/**
 * Finds stop sequences in streamed text. It holds back the tail that could still grow into a stop
 * sequence, so text that belongs to a stop string is never sent to the client, even when the
 * string arrives split across tokens.
 */
export class StopSequenceMatcher {
    private held = "";
    private readonly longest: number;
    /** The stop sequence that ended the generation, once one has. */
    matched: string | null = null;

    constructor(private readonly stops: readonly string[]) {
        this.longest = stops.reduce((max, s) => Math.max(max, s.length), 0);
    }

    /** Adds text; returns what is safe to emit and whether a stop sequence ended the generation. */
    push(text: string): { emit: string; stopped: boolean } {
        if (this.stops.length === 0) return { emit: text, stopped: false };
        const buffer = this.held + text;
        let cut = -1;
        for (const stop of this.stops) {
            const at = buffer.indexOf(stop);
            if (at !== -1 && (cut === -1 || at < cut)) {
                cut = at;
                this.matched = stop;
            }
        }
        if (cut !== -1) {
            this.held = "";
            return { emit: buffer.slice(0, cut), stopped: true };
        }
        const keep = this.partialSuffixLength(buffer);
        this.held = buffer.slice(buffer.length - keep);
        return { emit: buffer.slice(0, buffer.length - keep), stopped: false };
    }

    /** Releases held text once generation ends for another reason. */
    flush(): string {
        const rest = this.held;
        this.held = "";
        return rest;
    }

    private partialSuffixLength(buffer: string): number {
        const max = Math.min(this.longest - 1, buffer.length);
        for (let len = max; len > 0; len--) {
            const tail = buffer.slice(buffer.length - len);
            if (this.stops.some((stop) => stop.startsWith(tail))) return len;
        }
        return 0;
    }
}
