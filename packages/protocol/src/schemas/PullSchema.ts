import { Type, type Static } from "@sinclair/typebox";

export const PullRequestSchema = Type.Object(
    {
        source: Type.String({
            minLength: 1,
            maxLength: 2048,
            description: "hf:<owner>/<repo>[:<quant>], hf:<owner>/<repo>/<path/to/file.gguf>[#revision], or an https:// URL of a .gguf file."
        }),
        id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$", description: "The model id to use instead of the file stem." })),
        stream: Type.Optional(Type.Boolean({ description: "Stream progress as server-sent events instead of answering 202 at once. Defaults to false." }))
    },
    { additionalProperties: false }
);
export type PullRequest = Static<typeof PullRequestSchema>;

export const PullStatusSchema = Type.Union([Type.Literal("downloading"), Type.Literal("verifying"), Type.Literal("ready"), Type.Literal("error")]);

export const PullSchema = Type.Object(
    {
        id: Type.String({ description: "The pull's id, for GET /v1/models/pulls/{id}." }),
        object: Type.Literal("model.pull"),
        source: Type.String({ description: "The source in canonical form." }),
        model: Type.String({ description: "The id the model gets." }),
        status: PullStatusSchema,
        total_bytes: Type.Union([Type.Integer(), Type.Null()], { description: "Null when the source does not say." }),
        downloaded_bytes: Type.Integer(),
        bytes_per_second: Type.Number({ description: "Average over the download so far." }),
        sha256: Type.Union([Type.String(), Type.Null()], { description: "Of the (first) file, once verified." }),
        already_present: Type.Boolean({ description: "The same files were in the models dir already; nothing was downloaded." }),
        error: Type.Union([Type.Object({ code: Type.String(), message: Type.String(), type: Type.String(), param: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
        started_at: Type.String(),
        finished_at: Type.Union([Type.String(), Type.Null()])
    },
    {}
);
export type Pull = Static<typeof PullSchema>;

export const PullListSchema = Type.Object({ object: Type.Literal("list"), data: Type.Array(PullSchema) }, {});

export const PullIdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
