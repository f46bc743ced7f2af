import type { FastifyInstance } from "fastify";
import type { InferenceService } from "@quandex/engine";
import { ModelEntrySchema, ModelIdParamsSchema, ModelListSchema, type ModelList } from "@quandex/protocol";
import { errorResponses } from "./errorResponses.js";
import { createdSeconds, modelEntry, modelOwner } from "./modelEntry.js";

export function modelsRoutes(app: FastifyInstance, service: InferenceService): void {
    const { registry, scheduler } = service;

    app.get(
        "/v1/models",
        {
            config: { scope: "read" },
            schema: {
                summary: "List models in every state",
                description: "JAN's `models` list and OpenAI's `data` list in one body; aliases have their own `data` entries.",
                tags: ["models"],
                response: { 200: ModelListSchema, ...errorResponses }
            }
        },
        async (): Promise<ModelList> => {
            const definitions = registry.list();
            const data: ModelList["data"] = [];
            for (const definition of definitions) {
                const created = createdSeconds(definition);
                for (const name of [definition.id, ...definition.aliases]) data.push({ id: name, object: "model", created, owned_by: modelOwner });
            }
            return { models: definitions.map((d) => modelEntry(scheduler.snapshot(d))), object: "list", data };
        }
    );

    app.get<{ Params: { id: string } }>(
        "/v1/models/:id",
        {
            config: { scope: "read" },
            schema: { summary: "One model, by id or alias", tags: ["models"], params: ModelIdParamsSchema, response: { 200: ModelEntrySchema, ...errorResponses } }
        },
        async (request) => modelEntry(scheduler.snapshot(service.resolve(request.params.id, "id")))
    );

    app.post<{ Params: { id: string } }>(
        "/v1/models/:id/load",
        {
            config: { scope: "generate" },
            schema: {
                summary: "Start loading a model",
                description: "Answers 202 at once with the model's status; poll GET /v1/models/{id} until `ready`.",
                tags: ["models"],
                params: ModelIdParamsSchema,
                response: { 202: ModelEntrySchema, ...errorResponses }
            }
        },
        async (request, reply) => {
            const snapshot = scheduler.load(service.resolve(request.params.id, "id"));
            return reply.code(202).send(modelEntry(snapshot));
        }
    );

    app.post<{ Params: { id: string } }>(
        "/v1/models/:id/unload",
        {
            config: { scope: "admin" },
            schema: {
                summary: "Unload a model once its in-flight requests finish",
                tags: ["models"],
                params: ModelIdParamsSchema,
                response: { 202: ModelEntrySchema, ...errorResponses }
            }
        },
        async (request, reply) => {
            const snapshot = await scheduler.unload(service.resolve(request.params.id, "id"));
            return reply.code(202).send(modelEntry(snapshot));
        }
    );
}
