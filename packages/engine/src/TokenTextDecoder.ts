/**
 * Turns tokens into text one token at a time. Byte-fallback tokens can split a UTF-8 character, and
 * SentencePiece decoders drop or add a leading space depending on the previous token, so each piece
 * is decoded with the tokens before it as context, and a piece ending in an incomplete character
 * is held until the next token completes it.
 */
export class TokenTextDecoder {
    private pending: number[] = [];
    private context: number[] = [];

    constructor(private readonly detokenize: (tokens: readonly number[], lastTokens: readonly number[]) => string) {}

    push(token: number): string {
        this.pending.push(token);
        const text = this.detokenize(this.pending, this.context);
        // U+FFFD at the end means an incomplete multi-byte character; 4 bytes is the UTF-8 maximum.
        if (text.endsWith("\uFFFD") && this.pending.length < 4) return "";
        this.context = this.context.concat(this.pending).slice(-8);
        this.pending = [];
        return text;
    }

    flush(): string {
        if (this.pending.length === 0) return "";
        const text = this.detokenize(this.pending, this.context);
        this.pending = [];
        return text;
    }
}
