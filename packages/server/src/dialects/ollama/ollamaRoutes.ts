import type { FastifyInstance } from "fastify";
import type { InferenceService, ModelPull, ModelSnapshot, PullState } from "@quandex/engine";
import {
    OllamaAnswerSchema,
    OllamaChatRequestSchema,
    OllamaEmbeddingsRequestSchema,
    OllamaEmbedRequestSchema,
    OllamaGenerateRequestSchema,
    OllamaModelRefSchema,
    OllamaPullRequestSchema,
    QuandexError,
    type OllamaEmbeddingsRequest,
    type OllamaEmbedRequest,
    type OllamaGenerateRequest,
    type OllamaModelRef,
    type OllamaPullRequest
} from "@quandex/protocol";
import type { AccessGuard } from "../../http/access/AccessGuard.js";
import { policies, type RoutePolicy } from "../../http/access/RoutePolicy.js";
import type { ErrorShapes } from "../../http/ErrorShapes.js";
import { errorResponses } from "../../http/routes/errorResponses.js";
import { pullUpdates } from "../../http/routes/pullUpdates.js";
import { embeddingHandler } from "../../inference/embeddingHandler.js";
import { generationHandler } from "../../inference/generationHandler.js";
import type { InferenceDeps } from "../../inference/InferenceDeps.js";
import { RequestSignals } from "../../inference/RequestSignals.js";
import { sendEventStream } from "../../streaming/eventStream.js";
import { keepAliveParam } from "../keepAliveParam.js";
import { ollamaChatDialect } from "./ollamaChatDialect.js";
import { ollamaError } from "./ollamaError.js";
import { ollamaGenerateDialect } from "./ollamaGenerateDialect.js";
import { line, ollamaTransport } from "./ollamaTransport.js";

export interface OllamaRouteOptions {
    /** `key`: as every route; `none`: requests without a key run as this key (its scopes and limits). */
    auth: { mode: "key" } | { mode: "none"; anonymousKeyId: string };
    version: string;
}

const refuse = (param: string, detail: string): QuandexError => new QuandexError("invalid_parameter", { param, detail }, { param });

/**
 * Ollama's `/api/*` on the one request path: generate and chat stream NDJSON through the same
 * admission, queue, usage and stats as every dialect; embed and embeddings share the embedding
 * path; tags, ps and show read the model list; pull and delete are the admin routes' own
 * operations. Errors are Ollama's `{"error": "…"}`. See docs/ollama.md.
 */
export function ollamaRoutes(app: FastifyInstance, access: AccessGuard, deps: InferenceDeps, errorShapes: ErrorShapes, options: OllamaRouteOptions): void {
    errorShapes.add(["/api/"], ollamaError);
    const open = options.auth.mode === "none";
    const policy = (base: RoutePolicy): RoutePolicy => (open ? { ...base, anonymousKeyId: (options.auth as { anonymousKeyId: string }).anonymousKeyId } : base);
    const inference = policy(policies.inference);
    const read = policy(policies.read);
    const admin = policies.admin;
    const tags = ["ollama"];
    const schema = (summary: string, body?: unknown) => ({ summary, tags, ...(body !== undefined && { body }), response: { 200: OllamaAnswerSchema, ...errorResponses } });
    const { service } = deps;

    const generate = generationHandler(deps, inference, ollamaGenerateDialect);
    app.post<{ Body: OllamaGenerateRequest }>(
        "/api/generate",
        { onRequest: access.guard(inference), schema: schema("Ollama: generate", OllamaGenerateRequestSchema) },
        async (request, reply) => {
            // Ollama's "load the model" call: an empty prompt loads it and answers at once.
            if (!request.body.prompt && !request.body.raw) return loadAnswer(service, request.body.model);
            return generate(request, reply);
        }
    );
    app.post("/api/chat", { onRequest: access.guard(inference), schema: schema("Ollama: chat", OllamaChatRequestSchema) }, generationHandler(deps, inference, ollamaChatDialect));

    app.post<{ Body: OllamaEmbedRequest }>(
        "/api/embed",
        { onRequest: access.guard(inference), schema: schema("Ollama: embed", OllamaEmbedRequestSchema) },
        embeddingHandler<OllamaEmbedRequest, unknown>(deps, inference, {
            parse: (body) => {
                const inputs = typeof body.input === "string" ? [body.input] : body.input;
                inputs.forEach((text, i) => {
                    if (text === "") throw refuse(typeof body.input === "string" ? "input" : `input[${i}]`, "must not be empty.");
                });
                if (body.dimensions !== undefined) throw refuse("dimensions", "vectors always have the model's embedding size.");
                return { kind: "embedding", model: body.model, inputs, keepAliveMs: keepAliveParam(body.keep_alive) };
            },
            render: (_body, model, result) => ({ model, embeddings: result.vectors, prompt_eval_count: result.promptTokens })
        })
    );
    app.post<{ Body: OllamaEmbeddingsRequest }>(
        "/api/embeddings",
        { onRequest: access.guard(inference), schema: schema("Ollama: embeddings (the older route)", OllamaEmbeddingsRequestSchema) },
        embeddingHandler<OllamaEmbeddingsRequest, unknown>(deps, inference, {
            parse: (body) => {
                if (body.prompt === "") throw refuse("prompt", "must not be empty.");
                return { kind: "embedding", model: body.model, inputs: [body.prompt], keepAliveMs: keepAliveParam(body.keep_alive) };
            },
            render: (_body, _model, result) => ({ embedding: result.vectors[0]! })
        })
    );

    app.get("/api/tags", { onRequest: access.guard(read), schema: schema("Ollama: the models") }, async () => ({ models: service.models().map(tagOf) }));
    app.get("/api/ps", { onRequest: access.guard(read), schema: schema("Ollama: the loaded models") }, async () => ({
        models: service
            .models()
            .filter((m) => m.status === "ready" && m.resources)
            .map((m) => ({
                ...tagOf(m),
                size: m.resources!.totalBytes,
                size_vram: m.resources!.acceleratorBytes,
                context_length: m.contextSize,
                // Ollama writes a far-future time for "kept forever".
                expires_at: new Date(m.expiresAt ?? Date.UTC(2318, 0, 1)).toISOString()
            }))
    }));
    app.post<{ Body: OllamaModelRef }>("/api/show", { onRequest: access.guard(read), schema: schema("Ollama: one model", OllamaModelRefSchema) }, async (request) => {
        const snapshot = service.model(refOf(request.body), "model");
        return {
            license: "",
            modelfile: "",
            parameters: "",
            template: "",
            details: detailsOf(),
            model_info: { "quandex.context_length": snapshot.contextSize, "quandex.parallel": snapshot.parallel, "quandex.status": snapshot.status },
            capabilities: ["completion", "tools"],
            modified_at: new Date(snapshot.definition.mtimeMs).toISOString()
        };
    });
    app.delete<{ Body: OllamaModelRef }>("/api/delete", { onRequest: access.guard(admin), schema: schema("Ollama: delete a model", OllamaModelRefSchema) }, async (request) => {
        await service.deleteModel(refOf(request.body), "model");
        return {};
    });
    app.post<{ Body: OllamaPullRequest }>(
        "/api/pull",
        { onRequest: access.guard(admin), schema: schema("Ollama: pull a model (hf.co/<owner>/<repo>[:<quant>] or a URL)", OllamaPullRequestSchema) },
        async (request, reply) => {
            const name = request.body.model ?? request.body.name;
            if (!name) throw refuse("model", "this field is required.");
            const signals = new RequestSignals(reply, deps.lifecycle);
            const pull = await service.pull(pullSourceOf(name), { signal: signals.request });
            if (request.body.stream === false) {
                const state = await finished(pull);
                if (state.status === "error")
                    throw new QuandexError("invalid_parameter", { param: "model", detail: state.error?.message ?? "the pull failed." }, { param: "model" });
                return { status: "success" };
            }
            async function* progress(): AsyncGenerator<string> {
                yield line({ status: "pulling manifest" });
                for await (const state of pullUpdates(pull)) {
                    if (state.status === "error") {
                        yield line({ error: state.error?.message ?? "the pull failed." });
                        return;
                    }
                    if (state.status === "ready") {
                        yield line({ status: "verifying sha256 digest" });
                        yield line({ status: "success" });
                        return;
                    }
                    yield line({
                        status: state.status === "verifying" ? "verifying sha256 digest" : `pulling ${state.model}`,
                        digest: state.sha256 ? `sha256:${state.sha256}` : "",
                        total: state.totalBytes ?? 0,
                        completed: state.downloadedBytes
                    });
                }
            }
            return sendEventStream(reply, request, progress(), signals.request, deps.keepAliveMs, ollamaTransport);
        }
    );
    app.get("/api/version", { schema: schema("Ollama: the server's version") }, async () => ({ version: options.version }));
    // Ollama's clients probe the server with HEAD / (GET / is the web console).
    app.head("/", { schema: { summary: "Ollama: is the server up (no key)", tags, response: { 200: { type: "null" } } } }, async (_request, reply) => reply.code(200).send());
}

function refOf(body: OllamaModelRef): string {
    const name = body.model ?? body.name;
    if (!name) throw refuse("model", "this field is required.");
    return name;
}

/** Ollama's names for Hugging Face models (`hf.co/<owner>/<repo>[:<quant>]`) and plain URLs; Ollama's own registry is not reachable from here. */
function pullSourceOf(name: string): string {
    const hub = /^(?:https?:\/\/)?(?:hf\.co|huggingface\.co)\/(.+)$/.exec(name);
    if (hub) return `hf:${hub[1]}`;
    if (/^https?:\/\//.test(name)) return name;
    throw refuse("model", `'${name}' is a name in Ollama's registry, which Quandex does not pull from; pull hf.co/<owner>/<repo>[:<quant>] or an https:// URL.`);
}

async function finished(pull: ModelPull): Promise<PullState> {
    let last = pull.snapshot();
    for await (const state of pullUpdates(pull)) last = state;
    return last;
}

/** Starts the model's load (the load runs on; a generation right after it waits for it in the queue). */
async function loadAnswer(service: InferenceService, model: string) {
    const snapshot = await service.load(model, "model");
    return { model: snapshot.definition.id, created_at: new Date().toISOString(), response: "", done: true, done_reason: "load" };
}

/** Quandex reads no family, size class or quantisation from the file's header here: unreadable is null, not guessed. */
function detailsOf() {
    return { parent_model: "", format: "gguf", family: null, families: null, parameter_size: null, quantization_level: null };
}

function tagOf(m: ModelSnapshot) {
    return {
        name: m.definition.id,
        model: m.definition.id,
        modified_at: new Date(m.definition.mtimeMs).toISOString(),
        size: m.definition.sizeBytes,
        digest: m.definition.sha256 ?? null,
        details: detailsOf()
    };
}
