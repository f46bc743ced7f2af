import { ErrorBodySchema } from "@quandex/protocol";

/** Declared on every route so the OpenAPI document lists the error shape. */
export const errorResponses = {
    "4xx": ErrorBodySchema,
    "5xx": ErrorBodySchema
} as const;
