/**
 * Runs in a worker thread (see `GrammarCache`): turns a JSON schema, already checked against the
 * limits and the enforceable subset, into GBNF text. node-llama-cpp's generator is the exact code
 * `llama.createGrammarForJsonSchema` runs, but it is not exported by name, so it is loaded from its
 * file beside the package's entry point; a test compares its text with the public method's, so a
 * release that moves it fails there rather than in production.
 */
const modulePath = new URL("./utils/gbnfJson/getGbnfGrammarForGbnfJsonSchema.js", import.meta.resolve("node-llama-cpp")).href;
const { getGbnfGrammarForGbnfJsonSchema } = (await import(modulePath)) as { getGbnfGrammarForGbnfJsonSchema: (schema: unknown) => string };

export default function schemaToGbnf(schema: unknown): string {
    return getGbnfGrammarForGbnfJsonSchema(schema);
}
