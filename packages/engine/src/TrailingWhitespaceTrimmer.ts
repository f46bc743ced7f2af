/**
 * Holds back trailing whitespace of streamed text until something else follows it, so the
 * whitespace a grammar forces after a complete JSON value (node-llama-cpp's JSON grammars end with
 * newlines) never reaches the client, even in a stream.
 */
export class TrailingWhitespaceTrimmer {
    private held = "";

    push(text: string): string {
        const buffer = this.held + text;
        const end = buffer.trimEnd().length;
        this.held = buffer.slice(end);
        return buffer.slice(0, end);
    }

    /** Drops what is held: at the end of the generation, trailing whitespace is trimmed. */
    end(): void {
        this.held = "";
    }
}
