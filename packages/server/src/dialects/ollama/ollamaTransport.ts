import type { StreamTransport } from "../../streaming/StreamTransport.js";
import { ollamaError } from "./ollamaError.js";

/** One JSON object per line. NDJSON has no comments, so there is no keep-alive frame; a late error is a last `{"error": …}` line, as Ollama sends. */
export const ollamaTransport: StreamTransport = {
    contentType: "application/x-ndjson",
    ping: undefined,
    errorFrame: (error) => `${JSON.stringify(ollamaError(error))}\n`
};

export const line = (value: unknown): string => `${JSON.stringify(value)}\n`;
