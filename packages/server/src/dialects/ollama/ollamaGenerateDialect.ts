import type { OllamaGenerateRequest } from "@quandex/protocol";
import { QuandexError } from "@quandex/protocol";
import type { GenerationDialect } from "../../inference/Dialect.js";
import { keepAliveParam } from "../keepAliveParam.js";
import { ollamaTimings } from "./ollamaTimings.js";
import { line, ollamaTransport } from "./ollamaTransport.js";
import { constraintFromOllama, refuseImages, samplingFromOllama } from "./samplingFromOllama.js";

const refuse = (param: string, detail: string): QuandexError => new QuandexError("invalid_parameter", { param, detail }, { param });

/**
 * Ollama's `/api/generate`: the prompt (and `system`) go through the model's chat template, as
 * Ollama's do, unless `raw` sends the prompt as it is. Streams NDJSON unless `stream: false`.
 */
export const ollamaGenerateDialect: GenerationDialect<OllamaGenerateRequest, Record<string, unknown>> = {
    transport: ollamaTransport,
    parse: (body) => {
        refuseImages(body.images, "images");
        if (body.suffix) throw refuse("suffix", "fill-in-the-middle (suffix) is not supported.");
        if (body.template) throw refuse("template", "a per-request template is not supported; the model's own chat template is used (or raw: true).");
        if (body.context && body.context.length > 0) throw refuse("context", "the deprecated context continuation is not supported; send the conversation to /api/chat.");
        const constraint = constraintFromOllama(body.format);
        const prompt = body.prompt ?? "";
        const inputs = body.raw
            ? [{ prompt }]
            : [{ messages: [...(body.system ? [{ role: "system" as const, content: body.system }] : []), { role: "user" as const, content: prompt }] }];
        return {
            kind: "generation",
            model: body.model,
            inputs,
            sampling: { ...samplingFromOllama(body.options), ...(constraint && { constraint }) },
            stream: body.stream !== false,
            keepAliveMs: keepAliveParam(body.keep_alive)
        };
    },
    renderer: (body, run) => {
        const model = run.model;
        const trim = !body.raw;
        return {
            json: ({ choices }) => {
                const choice = choices[0]!;
                return {
                    model,
                    created_at: new Date().toISOString(),
                    response: trim ? choice.text.trimStart() : choice.text,
                    done: true,
                    done_reason: choice.finishReason,
                    ...ollamaTimings(run, choice)
                };
            },
            stream: () => {
                let replyStarted = !trim;
                return {
                    text: (_index, piece) => {
                        const text = replyStarted ? piece : piece.trimStart();
                        if (text === "") return undefined;
                        replyStarted = true;
                        return line({ model, created_at: new Date().toISOString(), response: text, done: false });
                    },
                    finished: (choice) =>
                        line({ model, created_at: new Date().toISOString(), response: "", done: true, done_reason: choice.finishReason, ...ollamaTimings(run, choice) }),
                    end: () => ""
                };
            }
        };
    }
};
