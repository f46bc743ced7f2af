export type SseEvent = { event: string; data: string };

/**
 * Incremental parser for a `text/event-stream` body (WHATWG HTML, "event stream interpretation"),
 * fed decoded text in arbitrary pieces. Comment lines (`: ping`) are dropped; multi-line `data`
 * fields are joined with "\n"; CRLF, CR and LF line ends are accepted.
 */
export class SseParser {
    private pending = "";
    private event = "";
    private data: string[] = [];

    /** Consumes `text` and returns the events it completed. */
    push(text: string): SseEvent[] {
        this.pending += text;
        const events: SseEvent[] = [];
        let lineStart = 0;
        for (let i = 0; i < this.pending.length; i++) {
            const char = this.pending.charCodeAt(i);
            if (char !== 10 && char !== 13) continue;
            // A CR at the very end may be the first half of a CRLF split across pushes: wait for more.
            if (char === 13 && i === this.pending.length - 1) break;
            this.line(this.pending.slice(lineStart, i), events);
            if (char === 13 && this.pending.charCodeAt(i + 1) === 10) i++;
            lineStart = i + 1;
        }
        this.pending = this.pending.slice(lineStart);
        return events;
    }

    private line(line: string, events: SseEvent[]): void {
        if (line === "") {
            if (this.data.length > 0) events.push({ event: this.event === "" ? "message" : this.event, data: this.data.join("\n") });
            this.event = "";
            this.data = [];
            return;
        }
        if (line.startsWith(":")) return;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "data") this.data.push(value);
        else if (field === "event") this.event = value;
    }
}
