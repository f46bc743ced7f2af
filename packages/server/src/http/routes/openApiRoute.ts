import type { FastifyInstance } from "fastify";
import { Type } from "@sinclair/typebox";
import type { AccessGuard } from "../access/AccessGuard.js";
import { policies } from "../access/RoutePolicy.js";
import { errorResponses } from "./errorResponses.js";

/** The OpenAPI 3 document generated from the route schemas: the one source for docs and SDK types. */
export function openApiRoute(app: FastifyInstance, access: AccessGuard): void {
    app.get(
        "/v1/openapi.json",
        {
            onRequest: access.guard(policies.read),
            schema: {
                summary: "This API's OpenAPI 3 document",
                tags: ["meta"],
                response: { 200: Type.Object({}, { additionalProperties: true }), ...errorResponses }
            }
        },
        async () => app.swagger()
    );
}
