import { readFileSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";

/** What a pull records about a model it placed, beside the files, so listings can show it. */
export interface ModelFileMeta {
    /** The source it was pulled from, in canonical form. */
    source: string;
    /** Each file's SHA-256, in part order, as computed after the download (and checked against the source's). */
    files: Array<{ name: string; size: number; sha256: string }>;
    /** ISO time the pull finished. */
    pulledAt: string;
}

/** Quandex's own folder inside the models dir; the registry lists only top-level `*.gguf` files, so nothing in it is ever a model. */
export function quandexDir(modelsDir: string): string {
    return path.join(modelsDir, ".quandex");
}

function metaPath(modelsDir: string, id: string): string {
    return path.join(quandexDir(modelsDir), "models", `${id}.json`);
}

/** The recorded facts of model `id`, or `null` for a file that was not pulled (copied in by hand) or whose record is unreadable. */
export function readModelFileMeta(modelsDir: string, id: string): ModelFileMeta | null {
    try {
        const parsed: unknown = JSON.parse(readFileSync(metaPath(modelsDir, id), "utf8"));
        if (typeof parsed !== "object" || parsed === null) return null;
        const meta = parsed as Partial<ModelFileMeta>;
        if (typeof meta.source !== "string" || !Array.isArray(meta.files) || typeof meta.pulledAt !== "string") return null;
        return meta as ModelFileMeta;
    } catch {
        return null;
    }
}

/** Writes the record atomically (a temporary file renamed over it), so a reader never sees half of it. */
export async function writeModelFileMeta(modelsDir: string, id: string, meta: ModelFileMeta): Promise<void> {
    const target = metaPath(modelsDir, id);
    await mkdir(path.dirname(target), { recursive: true });
    const temporary = `${target}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(meta, null, 2)}\n`);
    await rename(temporary, target);
}

export async function removeModelFileMeta(modelsDir: string, id: string): Promise<void> {
    await rm(metaPath(modelsDir, id), { force: true });
}
