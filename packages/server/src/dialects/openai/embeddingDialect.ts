import type { EmbeddingList, EmbeddingRequest } from "@quandex/protocol";
import type { EmbeddingDialect } from "../../inference/Dialect.js";
import { keepAliveParam } from "../keepAliveParam.js";
import { inputsFromOpenAI } from "./toNative.js";

/**
 * OpenAI's embeddings: one unit-length vector per input. The official Node client asks for base64
 * unless told otherwise, so both encodings are served.
 */
export const embeddingDialect: EmbeddingDialect<EmbeddingRequest, EmbeddingList> = {
    parse: (body) => ({ kind: "embedding", model: body.model, inputs: inputsFromOpenAI(body), keepAliveMs: keepAliveParam(body.keep_alive) }),
    render: (body, model, result) => {
        const base64 = body.encoding_format === "base64";
        return {
            object: "list",
            data: result.vectors.map((vector, index) => ({ object: "embedding" as const, index, embedding: base64 ? float32Base64(vector) : vector })),
            model,
            usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens }
        };
    }
};

/** OpenAI's base64 encoding: the vector's float32 values, little-endian, base64-encoded. */
function float32Base64(vector: readonly number[]): string {
    const bytes = Buffer.alloc(vector.length * 4);
    vector.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
    return bytes.toString("base64");
}
