import type { FastifyInstance } from "fastify";
import { GenerateRequestSchema, GenerateResponseSchema } from "@quandex/protocol";
import type { AccessGuard } from "../../http/access/AccessGuard.js";
import type { InferenceDeps } from "../../inference/InferenceDeps.js";
import { generationRoute } from "../../inference/inferenceRoutes.js";
import { janGenerateDialect } from "./janGenerateDialect.js";

/** The JAN dialect's inference route, the reference's `POST /v1/generate`. */
export function janRoutes(app: FastifyInstance, access: AccessGuard, deps: InferenceDeps): void {
    generationRoute(app, access, deps, {
        url: "/v1/generate",
        summary: "Generate text from a prompt",
        description: "With `stream: true` the answer is text/event-stream: GenerateChunk events, then `data: [DONE]`.",
        tags: ["inference"],
        body: GenerateRequestSchema,
        response: GenerateResponseSchema,
        dialect: janGenerateDialect
    });
}
