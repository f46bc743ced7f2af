import type { ModelDefinition, ModelSnapshot } from "@quandex/engine";
import { formatBytes, type ModelEntry } from "@quandex/protocol";

/** `owned_by` of every model: they are the server's own files. */
export const modelOwner = "quandex";

/** The JAN model entry: honest figures from the engine, zeros when nothing is loaded. */
export function modelEntry(snapshot: ModelSnapshot): ModelEntry {
    const { definition } = snapshot;
    const resources = snapshot.resources ?? undefined;
    return {
        id: definition.id,
        object: "model",
        created: createdSeconds(definition),
        owned_by: modelOwner,
        status: snapshot.status,
        metal_optimized: resources !== undefined && resources.backend !== "cpu" && resources.gpuLayers > 0,
        memory_usage: formatBytes(resources?.totalBytes ?? 0),
        memory_bytes: resources?.totalBytes ?? 0,
        aliases: [...definition.aliases],
        context_size: snapshot.contextSize,
        parallel: snapshot.parallel,
        backend: resources?.backend ?? null,
        gpu_layers: resources?.gpuLayers ?? 0,
        size_bytes: definition.sizeBytes,
        error: snapshot.status === "error" ? snapshot.error : null,
        busy_sequences: snapshot.active,
        estimated_bytes: snapshot.estimatedBytes,
        last_used_at: isoOrNull(snapshot.lastUsedAt),
        expires_at: isoOrNull(snapshot.expiresAt),
        sha256: definition.sha256 ?? null,
        pulled_from: definition.pulledFrom ?? null,
        ...(definition.upstream && { source: definition.source, upstream: { pool: definition.upstream.pool, ...definition.upstream.health() } })
    };
}

/** OpenAI's `created`: the model file's mtime, in Unix seconds, as of the registry's last scan. */
export function createdSeconds(definition: ModelDefinition): number {
    return Math.floor(definition.mtimeMs / 1000);
}

function isoOrNull(ms: number | null): string | null {
    return ms === null ? null : new Date(ms).toISOString();
}
