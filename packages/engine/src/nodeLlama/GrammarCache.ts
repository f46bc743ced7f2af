import { LlamaText, type Llama, type LlamaGrammar } from "node-llama-cpp";
import { Piscina } from "piscina";
import { QuandexError } from "@quandex/protocol";
import { toGrammarSchema } from "../constraints/jsonSchemaSubset.js";
import { checkSchemaLimits, defaultSchemaLimits, type SchemaLimits } from "../constraints/schemaLimits.js";
import type { OutputConstraint } from "../Engine.js";

export interface GrammarCacheOptions {
    /** Grammars kept, most recently used first. Defaults to 32. */
    capacity?: number;
    /** What a schema may hold before it is refused with `schema_too_complex`. */
    limits?: SchemaLimits;
    /** How long a schema's grammar may take to generate, queueing included, before it is refused. Defaults to 5 s. */
    compileTimeoutMs?: number;
}

/**
 * The worker pool that turns schemas into grammar text. Generating the text walks the whole schema
 * in JavaScript (a 50,000-value `enum`: 110 ms here, 13 s on the audit's machine with its grammar),
 * and on the event loop it would hold up `/health`, every other key and every stream meanwhile. Two
 * threads at most, started on the first schema and stopped after 30 s idle; a compile past its
 * budget is aborted, which terminates its thread (Piscina starts a fresh one).
 */
let compilers: Piscina<unknown, string> | undefined;
function compilerPool(): Piscina<unknown, string> {
    // Under tsx (tests) this file is TypeScript and so is its worker; built, both are JavaScript.
    const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
    compilers ??= new Piscina({ filename: new URL(`./grammarWorker${extension}`, import.meta.url).href, minThreads: 0, maxThreads: 2, idleTimeout: 30_000 });
    return compilers;
}

/**
 * Compiled grammars by constraint, most recently used kept. A request checks its constraint before
 * admission (which compiles it here) and its generation finds it again, so a schema is compiled
 * once however many requests send it. Grammars are immutable and safe to share between sequences;
 * each generation gets its own evaluation state.
 *
 * Before anything else touches a schema (even `JSON.stringify` for the cache key, which recurses),
 * {@link checkSchemaLimits} measures it without recursion: a schema nested 5,000 levels deep once
 * answered 500 from a `RangeError` here.
 */
export class GrammarCache {
    private readonly entries = new Map<string, Promise<LlamaGrammar>>();
    private readonly capacity: number;
    private readonly limits: SchemaLimits;
    private readonly compileTimeoutMs: number;

    constructor(
        private readonly llama: Llama,
        options: GrammarCacheOptions = {}
    ) {
        this.capacity = options.capacity ?? 32;
        this.limits = options.limits ?? defaultSchemaLimits;
        this.compileTimeoutMs = options.compileTimeoutMs ?? 5_000;
    }

    /** @throws QuandexError `schema_too_complex` past the limits, `invalid_parameter` for a schema outside the enforceable subset. */
    get(constraint: OutputConstraint): Promise<LlamaGrammar> {
        if (constraint.type === "json_schema") {
            try {
                checkSchemaLimits(constraint.schema, this.limits);
            } catch (error) {
                return Promise.reject(error);
            }
        }
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

    /** Stops the compiler threads (the engine's dispose); a later compile starts them again. */
    static async stopCompilers(): Promise<void> {
        const pool = compilers;
        compilers = undefined;
        await pool?.destroy();
    }

    private async compile(constraint: OutputConstraint): Promise<LlamaGrammar> {
        if (constraint.type === "json") return this.llama.getGrammarFor("json");
        // Linear in the schema, which the limits bound: cheap enough for the event loop.
        const schema = toGrammarSchema(constraint.schema, "response_format", this.limits);
        let text: string;
        try {
            text = await compilerPool().run(schema, { signal: AbortSignal.timeout(this.compileTimeoutMs) });
        } catch (error) {
            if (error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError")) {
                throw new QuandexError(
                    "schema_too_complex",
                    { param: "response_format", detail: `its grammar did not compile within ${this.compileTimeoutMs / 1000} s.` },
                    { param: "response_format" }
                );
            }
            throw new QuandexError(
                "invalid_parameter",
                { param: "response_format", detail: `the JSON schema cannot be turned into a grammar: ${error instanceof Error ? error.message : String(error)}` },
                { param: "response_format" }
            );
        }
        // What `createGrammarForJsonSchema` builds from the same text (LlamaJsonSchemaGrammar): llama.cpp
        // parses it natively, milliseconds for the largest schema the limits allow.
        return this.llama.createGrammar({ grammar: text, stopGenerationTriggers: [LlamaText(["\n".repeat(4)])], trimWhitespaceSuffix: true });
    }
}
