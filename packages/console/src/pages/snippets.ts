/** The settings of a playground request, from which the equivalent client code is written. */
export interface PlaygroundSettings {
    mode: "chat" | "generate";
    model: string;
    system: string;
    prompt: string;
    temperature: number;
    maxTokens: number;
    /** A JSON schema (chat only), or "" for free text. */
    schema: string;
}

export interface Snippet {
    label: string;
    code: string;
}

const json = (value: unknown) => JSON.stringify(value, null, 2);
const py = (value: string) => JSON.stringify(value);

/** A JSON value as a Python literal: JSON with True, False and None. */
function pyLiteral(value: unknown, indent = ""): string {
    if (value === null) return "None";
    if (value === true) return "True";
    if (value === false) return "False";
    if (typeof value !== "object") return JSON.stringify(value);
    const inner = `${indent}    `;
    if (Array.isArray(value)) return value.length === 0 ? "[]" : `[\n${value.map((v) => inner + pyLiteral(v, inner)).join(",\n")}\n${indent}]`;
    const entries = Object.entries(value);
    return entries.length === 0 ? "{}" : `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${pyLiteral(v, inner)}`).join(",\n")}\n${indent}}`;
}

/** The body the playground sends, so the snippets and the request can never differ. */
export function requestBody(s: PlaygroundSettings, history: Array<{ role: "user" | "assistant"; content: string }>): Record<string, unknown> {
    if (s.mode === "generate") return { model: s.model, prompt: s.prompt, temperature: s.temperature, max_tokens: s.maxTokens, stream: true };
    const messages = [...(s.system.trim() !== "" ? [{ role: "system", content: s.system }] : []), ...history, { role: "user", content: s.prompt }];
    return {
        model: s.model,
        messages,
        temperature: s.temperature,
        max_tokens: s.maxTokens,
        stream: true,
        stream_options: { include_usage: true },
        ...(s.schema.trim() !== "" && { response_format: { type: "json_schema", json_schema: { name: "output", strict: true, schema: JSON.parse(s.schema) as unknown } } })
    };
}

/**
 * curl, Python and TypeScript for the current settings (without the conversation so far). The
 * Quandex SDKs speak the JAN API (`/v1/generate`); chat goes through OpenAI's own clients, which
 * Quandex's OpenAI dialect serves.
 */
export function snippets(s: PlaygroundSettings, origin: string): Snippet[] {
    const body = requestBody(s, []);
    const path = s.mode === "chat" ? "/v1/chat/completions" : "/v1/generate";
    const curl = `curl -N ${origin}${path} \\\n  -H "Authorization: Bearer $QUANDEX_API_KEY" \\\n  -H "Content-Type: application/json" \\\n  -d '${json(body).replace(/'/g, "'\\''")}'`;
    if (s.mode === "generate") {
        return [
            { label: "curl", code: curl },
            {
                label: "Python SDK",
                code: `from quandex import Quandex\n\nclient = Quandex(base_url=${py(`${origin}/v1`)})  # key from QUANDEX_API_KEY\nfor chunk in client.stream_generate(\n    model=${py(s.model)},\n    prompt=${py(s.prompt)},\n    temperature=${s.temperature},\n    max_tokens=${s.maxTokens},\n):\n    print(chunk.text, end="", flush=True)`
            },
            {
                label: "TypeScript SDK",
                code: `import { QuandexClient } from "@quandex/client";\n\nconst client = new QuandexClient({ baseURL: ${py(`${origin}/v1`)} }); // key from QUANDEX_API_KEY\nfor await (const chunk of client.streamGenerate({ model: ${py(s.model)}, prompt: ${py(s.prompt)}, temperature: ${s.temperature}, max_tokens: ${s.maxTokens} })) {\n    process.stdout.write(chunk.text);\n}`
            }
        ];
    }
    const messages = body.messages;
    const format = body.response_format;
    return [
        { label: "curl", code: curl },
        {
            label: "Python (openai)",
            code: `import os\nfrom openai import OpenAI\n\nclient = OpenAI(base_url=${py(`${origin}/v1`)}, api_key=os.environ["QUANDEX_API_KEY"])\nstream = client.chat.completions.create(\n    model=${py(s.model)},\n    messages=${pyLiteral(messages, "    ")},\n    temperature=${s.temperature},\n    max_tokens=${s.maxTokens},${format ? `\n    response_format=${pyLiteral(format, "    ")},` : ""}\n    stream=True,\n)\nfor chunk in stream:\n    if chunk.choices:\n        print(chunk.choices[0].delta.content or "", end="", flush=True)`
        },
        {
            label: "TypeScript (openai)",
            code: `import OpenAI from "openai";\n\nconst client = new OpenAI({ baseURL: ${py(`${origin}/v1`)}, apiKey: process.env.QUANDEX_API_KEY });\nconst stream = await client.chat.completions.create({\n    model: ${py(s.model)},\n    messages: ${json(messages)},\n    temperature: ${s.temperature},\n    max_tokens: ${s.maxTokens},${format ? `\n    response_format: ${json(format)},` : ""}\n    stream: true\n});\nfor await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta.content ?? "");`
        }
    ];
}
