import { LlamaText, type Llama, type LlamaGrammar } from "node-llama-cpp";
import { QuandexError } from "@quandex/protocol";
import { toGrammarSchema } from "../constraints/jsonSchemaSubset.js";
import type { OutputConstraint } from "../Engine.js";

/**
 * Compiled grammars by constraint, most recently used kept. A request checks its constraint before
 * admission (which compiles it here) and its generation finds it again, so a schema is compiled
 * once however many requests send it. Grammars are immutable and safe to share between sequences;
 * each generation gets its own evaluation state.
 */
export class GrammarCache {
    private readonly entries = new Map<string, Promise<LlamaGrammar>>();

    constructor(
        private readonly llama: Llama,
        private readonly capacity = 32
    ) {}

    /** @throws QuandexError `invalid_parameter` for a schema outside the enforceable subset. */
    get(constraint: OutputConstraint): Promise<LlamaGrammar> {
        const key = constraint.type === "json" ? "json" : `schema:${JSON.stringify(constraint.schema)}`;
        const hit = this.entries.get(key);
        if (hit) {
            this.entries.delete(key);
            this.entries.set(key, hit);
            return hit;
        }
        const compiled = this.compile(constraint);
        compiled.catch(() => this.entries.delete(key));
        this.entries.set(key, compiled);
        if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
        return compiled;
    }

    /** The grammar's textual stop triggers (node-llama-cpp ends its JSON grammars with newlines). */
    static stopStrings(grammar: LlamaGrammar): string[] {
        const stops: string[] = [];
        for (const trigger of grammar.stopGenerationTriggers) {
            if (typeof trigger === "string") stops.push(trigger);
            else if (trigger instanceof LlamaText && trigger.values.every((v) => typeof v === "string")) stops.push(trigger.toString());
        }
        return stops.filter((s) => s !== "");
    }

    private async compile(constraint: OutputConstraint): Promise<LlamaGrammar> {
        if (constraint.type === "json") return this.llama.getGrammarFor("json");
        const schema = toGrammarSchema(constraint.schema);
        try {
            // The subset check above guarantees the shape node-llama-cpp's generator expects.
            return await this.llama.createGrammarForJsonSchema(schema as never);
        } catch (error) {
            throw new QuandexError(
                "invalid_parameter",
                { param: "response_format", detail: `the JSON schema cannot be turned into a grammar: ${error instanceof Error ? error.message : String(error)}` },
                { param: "response_format" }
            );
        }
    }
}
