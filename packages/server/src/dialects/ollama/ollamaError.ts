import type { QuandexError } from "@quandex/protocol";

/** A catalogue error in Ollama's shape, `{"error": "…"}`, with Quandex's code beside it for whoever reads it. */
export function ollamaError(error: QuandexError): unknown {
    return { error: error.message, code: error.code };
}
