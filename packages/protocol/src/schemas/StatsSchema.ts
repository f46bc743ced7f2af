import { Type, type Static } from "@sinclair/typebox";
import { BackendSchema } from "./GenerateResponseSchema.js";

const NullableString = Type.Union([Type.String(), Type.Null()]);
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);

export const ModelStatsSchema = Type.Object({
    requests_per_second: Type.Number({ description: "Requests finished in the last 60 s, divided by 60." }),
    average_latency: Type.String({ description: "Mean end-to-end latency over the last 60 s, human readable." }),
    average_latency_ms: NullableNumber,
    error_rate: Type.String({ description: 'Share of the last 60 s\'s requests that failed on the server side, e.g. "0.01%".' }),
    error_rate_ratio: Type.Number(),
    p50_latency_ms: NullableNumber,
    p95_latency_ms: NullableNumber,
    output_tokens_per_second: Type.Number({ description: "Completion tokens produced in the last 60 s, divided by 60." }),
    active_sequences: Type.Integer(),
    queue_depth: Type.Integer(),
    requests_total: Type.Integer(),
    errors_total: Type.Integer(),
    completion_tokens_total: Type.Integer(),
    prompt_tokens_total: Type.Integer({ description: "Prompt tokens of every finished generation since start, reused ones included." }),
    cached_prompt_tokens_total: Type.Integer({ description: "Of those, the prompt tokens whose evaluation was reused from an earlier request (prompt-cache hits)." })
});
export type ModelStats = Static<typeof ModelStatsSchema>;

/** A model's counters summed over the replicas of a cluster. */
export const ClusterModelStatsSchema = Type.Object({
    replicas: Type.Integer({ description: "Replicas that list the model." }),
    requests_per_second: Type.Number(),
    active_sequences: Type.Integer(),
    queue_depth: Type.Integer(),
    requests_total: Type.Integer(),
    errors_total: Type.Integer(),
    completion_tokens_total: Type.Integer(),
    prompt_tokens_total: Type.Integer()
});
export type ClusterModelStats = Static<typeof ClusterModelStatsSchema>;

export const StatsResponseSchema = Type.Object(
    {
        metal_device: Type.Object({
            name: Type.String({ description: "The GPU's name from the engine, or the CPU model without a GPU." }),
            backend: BackendSchema,
            memory_allocated: Type.String(),
            memory_allocated_bytes: Type.Integer(),
            memory_available: Type.String(),
            memory_available_bytes: Type.Integer(),
            temperature: Type.Union([Type.String(), Type.Null()], { description: "From hwmon or thermal zones; null when unreadable." }),
            temperature_celsius: NullableNumber
        }),
        engine: Type.Object({
            name: Type.String(),
            version: Type.String(),
            build: Type.String({ description: "prebuilt or local." }),
            llama_cpp_release: NullableString,
            threads: Type.Integer(),
            requested: Type.String({ description: "What engine.type asked for: auto, node-llama-cpp or llama-server." }),
            reason: Type.String({ description: "Why this engine serves (under auto: which llama-server was found, or why none was usable)." })
        }),
        server: Type.Object({
            uptime_seconds: Type.Number(),
            queue_depth: Type.Integer(),
            max_queue: Type.Integer(),
            active_sequences: Type.Integer(),
            rss_bytes: Type.Integer(),
            auth_failures_total: Type.Integer({ description: "Requests refused for a wrong API key since start." }),
            auth_blocked_total: Type.Integer({ description: "Requests refused because their address made too many failed attempts." })
        }),
        memory: Type.Object({
            budget: NullableString,
            budget_bytes: Type.Union([Type.Integer(), Type.Null()], { description: "What all loaded models may hold together; null without a budget." }),
            committed: Type.String(),
            committed_bytes: Type.Integer({ description: "What loaded models hold (and loading ones are estimated to need)." }),
            evictions_total: Type.Integer({ description: "Idle models unloaded to make room for another since start." })
        }),
        models: Type.Record(Type.String(), ModelStatsSchema),
        cluster: Type.Optional(
            Type.Object(
                {
                    replicas: Type.Array(
                        Type.Object({
                            id: Type.String(),
                            published_at: Type.String({ description: "When the replica last published (ISO 8601); replicas silent for 5 s drop out." }),
                            uptime_seconds: Type.Number(),
                            queue_depth: Type.Integer(),
                            active_sequences: Type.Integer(),
                            models: Type.Record(Type.String(), ModelStatsSchema)
                        })
                    ),
                    models: Type.Record(Type.String(), ClusterModelStatsSchema, { description: "Each model's counters summed over the replicas." })
                },
                { description: "Only with `?scope=cluster`: what every replica sharing this Redis last published (about once a second)." }
            )
        )
    },
    {}
);
export type StatsResponse = Static<typeof StatsResponseSchema>;
export const StatsQuerySchema = Type.Object({ scope: Type.Optional(Type.Union([Type.Literal("replica"), Type.Literal("cluster")])) });

export const HealthResponseSchema = Type.Object(
    {
        status: Type.Union([Type.Literal("ok"), Type.Literal("starting"), Type.Literal("shutting_down")]),
        live: Type.Boolean(),
        ready: Type.Boolean({ description: "True once every preloaded model is ready or failed and the server accepts requests." }),
        uptime_seconds: Type.Number()
    },
    {}
);
export type HealthResponse = Static<typeof HealthResponseSchema>;
