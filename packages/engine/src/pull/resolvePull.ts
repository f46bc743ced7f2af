import path from "node:path";
import { QuandexError } from "@quandex/protocol";
import { describe, type HubFile, type HuggingFaceHub } from "./HuggingFaceHub.js";
import { formatPullSource, type PullSource } from "./PullSource.js";
import { splitPart, splitPartName } from "./splitParts.js";

/** One file a pull will place in the models dir. */
export interface PlannedFile {
    /** The name it gets in the models dir. */
    name: string;
    /** Bytes, when the source says. */
    size: number | null;
    /** The SHA-256 the source publishes (Hugging Face's LFS oid / `X-Linked-Etag`); `null` when it publishes none. */
    sha256: string | null;
}

/** What a pull downloads and where it puts it, decided before any byte of the model is fetched. */
export interface PullPlan {
    /** The source in canonical form: pulls of equal sources share one download. */
    source: string;
    /** The model id: the file stem (without a split suffix), or the one asked for. */
    id: string;
    /** What node-llama-cpp's downloader fetches: an `hf:` file URI or the URL. */
    modelUri: string;
    /** The files, in part order (one, or each part of a split model). */
    files: PlannedFile[];
    totalBytes: number | null;
}

export interface ResolveOptions {
    hub: HuggingFaceHub;
    /** The id to give the model instead of the file stem. */
    id?: string;
    signal?: AbortSignal;
    fetch?: typeof fetch;
}

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/**
 * Decides a pull: which file(s) of the source, their sizes and checksums, the model id.
 * @throws QuandexError `model_not_found` for a repo or file that does not exist (naming the
 *   source), `invalid_parameter` when no quantisation was given and several files match (listing
 *   them) or the id is not a valid file name, `download_failed` when the source cannot be reached.
 */
export async function resolvePull(source: PullSource, options: ResolveOptions): Promise<PullPlan> {
    return source.kind === "hf" ? resolveHub(source, options) : resolveUrl(source, options);
}

async function resolveHub(source: Extract<PullSource, { kind: "hf" }>, options: ResolveOptions): Promise<PullPlan> {
    const canonical = formatPullSource(source);
    const listing = await options.hub.listFiles(source.owner, source.repo, source.revision, canonical, options.signal);
    const models = groupModels(listing);
    let chosen: HubFile[];
    if (source.file !== null) {
        const wanted = source.file;
        const group = models.find((files) => files.some((file) => file.path === wanted));
        if (!group) throw notFound(canonical, `there is no file '${wanted}' in ${source.owner}/${source.repo} at ${source.revision}.`);
        chosen = group;
    } else {
        const quant = source.quant;
        const matching = quant === null ? models : models.filter((files) => hasQuant(files[0]!.path, quant));
        if (matching.length === 0) {
            const available = models.map((files) => candidate(source, files)).join(", ") || "none";
            throw notFound(
                canonical,
                quant === null
                    ? `${source.owner}/${source.repo} has no GGUF model files.`
                    : `no file of ${source.owner}/${source.repo} is quantised as ${quant}; available: ${available}.`
            );
        }
        if (matching.length > 1) {
            const list = matching.map((files) => candidate(source, files)).join(", ");
            throw new QuandexError(
                "invalid_parameter",
                { param: "source", detail: `${matching.length} files of ${source.owner}/${source.repo} match; name one: ${list}.` },
                { param: "source" }
            );
        }
        chosen = matching[0]!;
    }
    const first = path.posix.basename(chosen[0]!.path);
    const id = modelId(options.id, first);
    const files = chosen.map((file, index) => ({
        name: chosen.length === 1 ? `${id}.gguf` : splitPartName(id, index + 1, chosen.length),
        size: file.size,
        sha256: file.sha256
    }));
    return {
        source: canonical,
        id,
        modelUri: `hf:${source.owner}/${source.repo}/${chosen[0]!.path}${source.revision === "main" ? "" : `#${source.revision}`}`,
        files,
        totalBytes: files.reduce((sum, file) => sum + (file.size ?? 0), 0)
    };
}

async function resolveUrl(source: Extract<PullSource, { kind: "url" }>, options: ResolveOptions): Promise<PullPlan> {
    const canonical = formatPullSource(source);
    const name = decodeURIComponent(path.posix.basename(source.url.pathname));
    const split = splitPart(name);
    const id = modelId(options.id, name);
    const parts = split ? split.parts : 1;
    const files: PlannedFile[] = [];
    for (let part = 1; part <= parts; part++) {
        const url = new URL(source.url);
        if (split) url.pathname = url.pathname.replace(/-\d{5}-of-\d{5}\.gguf$/i, `-${String(part).padStart(5, "0")}-of-${String(split.parts).padStart(5, "0")}.gguf`);
        const head = await headOf(url, canonical, options);
        files.push({ name: split ? splitPartName(id, part, parts) : `${id}.gguf`, size: head.size, sha256: head.sha256 });
    }
    const sizes = files.map((file) => file.size);
    return {
        source: canonical,
        id,
        modelUri: source.url.href,
        files,
        totalBytes: sizes.every((size) => size !== null) ? sizes.reduce((sum: number, size) => sum + size!, 0) : null
    };
}

/** A HEAD of the URL: its size and, from a Hugging Face mirror, the checksum in `X-Linked-Etag`. */
async function headOf(url: URL, source: string, options: ResolveOptions): Promise<{ size: number | null; sha256: string | null }> {
    let response: Response;
    try {
        response = await (options.fetch ?? fetch)(url, { method: "HEAD", redirect: "manual", signal: options.signal, headers: options.hub.headersFor(url) });
        if (response.status >= 300 && response.status < 400) {
            const sha256 = checksumOf(response.headers);
            const size = Number(response.headers.get("x-linked-size"));
            const location = response.headers.get("location");
            if (sha256 !== null && Number.isFinite(size) && size > 0) return { size, sha256 };
            if (location) response = await (options.fetch ?? fetch)(new URL(location, url), { method: "HEAD", signal: options.signal });
        }
    } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        throw new QuandexError("download_failed", { source, detail: `could not reach ${url.origin} (${describe(error)}).` }, { cause: error });
    }
    if (response.status === 404 || response.status === 410) throw notFound(source, `${url.href} answered ${response.status}.`);
    if (!response.ok) throw new QuandexError("download_failed", { source, detail: `${url.href} answered ${response.status}.` });
    const length = Number(response.headers.get("content-length"));
    return { size: Number.isFinite(length) && length > 0 ? length : null, sha256: checksumOf(response.headers) };
}

/** Hugging Face's `X-Linked-Etag` (or `ETag`) when it is a SHA-256, the LFS object's id. */
function checksumOf(headers: Headers): string | null {
    for (const name of ["x-linked-etag", "etag"]) {
        const value = headers.get(name)?.replace(/^W\//, "").replace(/"/g, "");
        if (value && /^[0-9a-f]{64}$/.test(value)) return value;
    }
    return null;
}

/** The repo's GGUF models: single files, and split models as their parts in order. Projector files (`mmproj`) are not models. */
function groupModels(files: readonly HubFile[]): HubFile[][] {
    const singles: HubFile[][] = [];
    const splits = new Map<string, HubFile[]>();
    for (const file of files) {
        const name = path.posix.basename(file.path);
        if (!name.toLowerCase().endsWith(".gguf") || name.toLowerCase().startsWith("mmproj")) continue;
        const split = splitPart(name);
        if (!split) {
            singles.push([file]);
            continue;
        }
        const key = `${path.posix.dirname(file.path)}/${split.stem}/${split.parts}`;
        const parts = splits.get(key) ?? [];
        parts[split.part - 1] = file;
        splits.set(key, parts);
    }
    const complete = [...splits.values()].filter((parts) => parts.every((part) => part !== undefined) && parts.length > 0);
    return [...singles, ...complete].sort((a, b) => a[0]!.path.localeCompare(b[0]!.path));
}

/** Whether a file name carries the quantisation as a word (`…-Q4_K_M.gguf`, `….q4_k_m-00001-of-00002.gguf`). */
function hasQuant(filePath: string, quant: string): boolean {
    const name = path.posix.basename(filePath).toLowerCase();
    const escaped = quant.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return new RegExp(`(^|[._-])${escaped}([._-]|$)`).test(name.replace(/\.gguf$/, "").replace(/-\d{5}-of-\d{5}$/, ""));
}

/** How a candidate is named back to the user: the file URI they can pull. */
function candidate(source: Extract<PullSource, { kind: "hf" }>, files: readonly HubFile[]): string {
    return `hf:${source.owner}/${source.repo}/${files[0]!.path}`;
}

function modelId(asked: string | undefined, fileName: string): string {
    const id = asked ?? splitPart(fileName)?.stem ?? fileName.replace(/\.gguf$/i, "");
    if (!idPattern.test(id)) {
        throw new QuandexError(
            "invalid_parameter",
            { param: asked === undefined ? "source" : "id", detail: `'${id}' cannot be a model id (letters, digits, '.', '_' and '-', at most 200); choose one with --as.` },
            { param: asked === undefined ? "source" : "id" }
        );
    }
    return id;
}

function notFound(source: string, detail: string): QuandexError {
    return new QuandexError("model_not_found", { model: source }, { param: "source", message: `The model source '${source}' was not found: ${detail}` });
}
