import type { FastifyInstance } from "fastify";
import type { InferenceService } from "@quandex/engine";
import type { AccessGuard } from "../access/AccessGuard.js";
import { policies } from "../access/RoutePolicy.js";
import { ModelEntrySchema, ModelIdParamsSchema, ModelListSchema, type ModelList } from "@quandex/protocol";
import { errorResponses } from "./errorResponses.js";
import { createdSeconds, modelEntry, modelOwner } from "./modelEntry.js";

export function modelsRoutes(app: FastifyInstance, access: AccessGuard, service: InferenceService): void {
    app.get(
        "/v1/models",
        {
            onRequest: access.guard(policies.read),
            schema: {
                summary: "List models in every state",
                description: "JAN's `models` list and OpenAI's `data` list in one body; aliases have their own `data` entries.",
                tags: ["models"],
                response: { 200: ModelListSchema, ...errorResponses }
            }
        },
        async (): Promise<ModelList> => {
            const models = service.models();
            const data: ModelList["data"] = [];
            for (const { definition } of models) {
                const created = createdSeconds(definition);
                for (const name of [definition.id, ...definition.aliases]) data.push({ id: name, object: "model", created, owned_by: modelOwner });
            }
            return { models: models.map(modelEntry), object: "list", data };
        }
    );

    app.get<{ Params: { id: string } }>(
        "/v1/models/:id",
        {
            onRequest: access.guard(policies.read),
            schema: { summary: "One model, by id or alias", tags: ["models"], params: ModelIdParamsSchema, response: { 200: ModelEntrySchema, ...errorResponses } }
        },
        async (request) => modelEntry(service.model(request.params.id))
    );

    app.post<{ Params: { id: string } }>(
        "/v1/models/:id/load",
        {
            onRequest: access.guard(policies.warmUp),
            schema: {
                summary: "Start loading a model",
                description: "Answers 202 at once with the model's status; poll GET /v1/models/{id} until `ready`.",
                tags: ["models"],
                params: ModelIdParamsSchema,
                response: { 202: ModelEntrySchema, ...errorResponses }
            }
        },
        async (request, reply) => {
            const snapshot = await service.load(request.params.id);
            return reply.code(202).send(modelEntry(snapshot));
        }
    );

    app.post<{ Params: { id: string } }>(
        "/v1/models/:id/unload",
        {
            onRequest: access.guard(policies.admin),
            schema: {
                summary: "Unload a model once its in-flight requests finish",
                tags: ["models"],
                params: ModelIdParamsSchema,
                response: { 202: ModelEntrySchema, ...errorResponses }
            }
        },
        async (request, reply) => {
            const snapshot = await service.unload(request.params.id);
            return reply.code(202).send(modelEntry(snapshot));
        }
    );

    app.delete<{ Params: { id: string } }>(
        "/v1/models/:id",
        {
            onRequest: access.guard(policies.admin),
            schema: {
                summary: "Delete a model's file(s) from the models dir",
                description:
                    "An idle loaded model is unloaded first; a model with requests running or waiting gets 409 model_busy. Models defined in the config file cannot be deleted here.",
                tags: ["models"],
                params: ModelIdParamsSchema,
                response: { 200: ModelEntrySchema, ...errorResponses }
            }
        },
        async (request) => modelEntry(await service.deleteModel(request.params.id))
    );
}
