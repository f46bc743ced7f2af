import { Type, type Static } from "@sinclair/typebox";

/** `{"error": {code, message, type, param}}`: OpenAI's error shape, with `code` always set. */
export const ErrorBodySchema = Type.Object(
    {
        error: Type.Object({
            code: Type.String({ description: "Stable machine-readable code from the error catalogue." }),
            message: Type.String({ description: "Human-readable explanation." }),
            type: Type.String({ description: "OpenAI-style error class, e.g. invalid_request_error." }),
            param: Type.Union([Type.String(), Type.Null()], { description: "The request field at fault, or null." })
        })
    },
    { description: "Every error response has this body." }
);
export type ErrorBodyWire = Static<typeof ErrorBodySchema>;
