import { readdirSync, statSync, watch, type FSWatcher } from "node:fs";
import path from "node:path";
import type { ModelLoadOptions } from "../Engine.js";
import { readModelFileMeta } from "../pull/modelFileMeta.js";
import { splitPart } from "../pull/splitParts.js";
import { ggufFileProblem } from "./ggufFileProblem.js";

/** A model as configured: every field but id and path may fall back to the defaults. */
export interface ConfiguredModel {
    id: string;
    /** Absolute path to the .gguf file (first shard for split models). */
    path: string;
    aliases: readonly string[];
    options: Partial<ModelLoadOptions>;
    preload: boolean;
    /** How long the model stays loaded once idle: ms, `null` forever, `0` unload after each request. Defaults to the server's default. */
    keepAliveMs?: number | null;
    /** Set for a model an upstream pool serves (`path` is then `upstream:<pool>/<model>`, not a file). */
    upstream?: UpstreamModelInfo;
}

/** Which pool serves an upstream model, and the pool's live health. */
export interface UpstreamModelInfo {
    readonly pool: string;
    /** The name the upstream knows the model by. */
    readonly model: string;
    /** Endpoints eligible for requests now, and all of them. */
    health(): { healthy: number; total: number };
}

export interface ModelDefinition {
    readonly id: string;
    readonly path: string;
    readonly aliases: readonly string[];
    readonly options: ModelLoadOptions;
    readonly preload: boolean;
    /** `upstream:<pool>` for a model an upstream pool serves. */
    readonly source: "config" | "directory" | `upstream:${string}`;
    /** Set for a model an upstream pool serves. */
    readonly upstream?: UpstreamModelInfo;
    /** The file's size and mtime at the last scan; 0 when it could not be read. */
    readonly sizeBytes: number;
    readonly mtimeMs: number;
    /**
     * How long the model stays loaded once idle, in ms; `null` forever, `0` unload after each
     * request. Defaults to the scheduler's default (forever for preloaded models).
     */
    readonly keepAliveMs?: number | null;
    /** SHA-256 of the (first) file, recorded when Quandex pulled it; `null` for a file copied in by hand. */
    readonly sha256?: string | null;
    /** The source it was pulled from, when Quandex pulled it. */
    readonly pulledFrom?: string | null;
    /**
     * Why the file cannot be a model (truncated, corrupt, tensors past its end), found by reading
     * its header without loading it; `null` when it passed, absent while it is being checked.
     */
    readonly fileProblem?: string | null;
}

export interface ModelRegistryOptions {
    /** Every `*.gguf` here is a model whose id is the file's stem. */
    modelsDir: string;
    configured: readonly ConfiguredModel[];
    defaults: ModelLoadOptions;
    onWarning?: (message: string) => void;
    /** A listing reuses a scan younger than this. Defaults to `1000` ms. */
    rescanIntervalMs?: number;
    clock?: () => number;
    /** Why a file cannot be a model, or `null`. Defaults to the header check every load runs (`ggufFileProblem`). */
    checkFile?: (filePath: string) => Promise<string | null>;
}

export class ModelRegistryError extends Error {
    constructor(
        message: string,
        readonly key: string
    ) {
        super(message);
        this.name = "ModelRegistryError";
    }
}

/**
 * Knows which models exist: those in the config plus every GGUF in the models directory, rescanned
 * on demand so new files appear without a restart. Ids and aliases share one namespace; a clash
 * among configured names stops the boot, while a clash with a file that appears later only hides
 * that file (a running server cannot refuse to boot).
 */
export class ModelRegistry {
    private models = new Map<string, ModelDefinition>();
    private names = new Map<string, ModelDefinition>();
    private readonly warned = new Set<string>();
    private scannedAt = -Infinity;
    private scannedDirStamp: number | null = null;
    /** Set by the directory watcher when an entry changes; null when no watcher could be started. */
    private watcher: FSWatcher | null = null;
    /** The directory the watcher watches, by inode: a directory removed or replaced needs a new watch. */
    private watchedIno: number | null = null;
    private dirChanged = false;
    private disposed = false;
    /** Each file's check, by path, for the size and mtime it was made at; `problem` is absent while it runs. */
    private readonly checks = new Map<string, { stamp: string; problem?: string | null }>();

    constructor(private readonly options: ModelRegistryOptions) {
        this.checkConfigured();
        this.refresh();
    }

    /** Stops watching the models directory. */
    dispose(): void {
        this.disposed = true;
        this.watcher?.close();
        this.watcher = null;
    }

    /** Rescans the models directory and the configured files now. */
    refresh(): void {
        this.scannedAt = this.now();
        this.dirChanged = false;
        const dir = this.dirStat();
        this.scannedDirStamp = dir?.mtimeMs ?? null;
        this.keepWatching(dir?.ino ?? null);
        const models = new Map<string, ModelDefinition>();
        const names = new Map<string, ModelDefinition>();
        for (const configured of this.options.configured) {
            const def: ModelDefinition = {
                id: configured.id,
                path: configured.path,
                aliases: [...configured.aliases],
                options: { ...this.options.defaults, ...configured.options },
                preload: configured.preload,
                source: configured.upstream ? `upstream:${configured.upstream.pool}` : "config",
                ...(configured.keepAliveMs !== undefined && { keepAliveMs: configured.keepAliveMs }),
                ...(configured.upstream ? { upstream: configured.upstream, sizeBytes: 0, mtimeMs: 0 } : fileFacts(configured.path))
            };
            const checked = this.checked(def);
            models.set(def.id, checked);
            names.set(def.id, checked);
            for (const alias of def.aliases) names.set(alias, checked);
        }
        const configuredPaths = new Set(this.options.configured.map((m) => path.resolve(m.path)));
        for (const file of this.scanDirectory()) {
            if (configuredPaths.has(path.resolve(file.path))) continue;
            if (names.has(file.id)) {
                this.warnOnce(`models dir file ${file.path} is hidden: '${file.id}' is already a configured id or alias`);
                continue;
            }
            const def: ModelDefinition = {
                id: file.id,
                path: file.path,
                aliases: [],
                options: { ...this.options.defaults },
                preload: false,
                source: "directory",
                sizeBytes: file.sizeBytes,
                mtimeMs: file.mtimeMs,
                ...pulledFacts(this.options.modelsDir, file.id)
            };
            const checked = this.checked(def);
            models.set(def.id, checked);
            names.set(def.id, checked);
        }
        this.models = models;
        this.names = names;
    }

    /**
     * Finds a model by id or alias. A miss rescans only when the directory changed since the last
     * scan (its mtime moves when a file is added, removed or renamed), so a new file is found at
     * once while a flood of unknown names costs one stat each, not a directory read.
     */
    resolve(name: string): ModelDefinition | undefined {
        const hit = this.names.get(name);
        if (hit) return hit;
        if (this.dirStamp() === this.scannedDirStamp) return undefined;
        this.refresh();
        return this.names.get(name);
    }

    /**
     * Every model: rescanned when the directory changed, and at least every `rescanIntervalMs` for
     * file sizes. With the watcher running, a listing costs no system call: `GET /v1/models` is the
     * control plane's hottest route, and a stat per request was an eighth of its CPU.
     */
    list(): ModelDefinition[] {
        const changed = this.watcher ? this.dirChanged : this.dirStamp() !== this.scannedDirStamp;
        if (changed || this.now() - this.scannedAt >= (this.options.rescanIntervalMs ?? 1000)) this.refresh();
        return [...this.models.values()];
    }

    /**
     * inotify (or its equivalent) marks the directory changed; the event arrives on the event loop,
     * so a file is listed from the first request after it lands. Without a watcher (no directory
     * yet, no inotify slots left) listings fall back to a stat each. Every scan checks that the
     * watch still covers the directory at that path (one removed and made again is a new inode).
     */
    private keepWatching(ino: number | null): void {
        if (this.disposed || (this.watcher && ino === this.watchedIno)) return;
        this.watcher?.close();
        this.watcher = null;
        this.watchedIno = ino;
        if (ino === null) return;
        try {
            const watcher = watch(this.options.modelsDir, { persistent: false }, () => {
                this.dirChanged = true;
            });
            watcher.on("error", () => {
                watcher.close();
                if (this.watcher === watcher) this.watcher = null;
            });
            this.watcher = watcher;
        } catch {
            this.watcher = null;
        }
    }

    /**
     * The definition with its file's check result, starting the check for a file that is new or
     * changed since (a file still being copied in is checked again once it stops changing). A
     * finished check makes the next listing rescan, so it shows up at once.
     */
    private checked(def: ModelDefinition): ModelDefinition {
        // An upstream pool's model has no file here; the pool's own health speaks for it.
        if (def.upstream) return def;
        const stamp = `${def.sizeBytes}:${def.mtimeMs}`;
        const known = this.checks.get(def.path);
        if (known?.stamp === stamp) return known.problem === undefined ? def : { ...def, fileProblem: known.problem };
        const entry: { stamp: string; problem?: string | null } = { stamp };
        this.checks.set(def.path, entry);
        const check = this.options.checkFile ?? ggufFileProblem;
        void check(def.path)
            .catch((error: unknown) => `the file cannot be checked (${error instanceof Error ? error.message : String(error)})`)
            .then((problem) => {
                if (this.checks.get(def.path) !== entry || this.disposed) return;
                entry.problem = problem;
                if (problem !== null) this.warnOnce(`model file ${def.path} cannot be served: ${problem}`);
                this.dirChanged = true;
                this.scannedAt = -Infinity;
                this.scannedDirStamp = null;
            });
        return def;
    }

    private dirStamp(): number | null {
        return this.dirStat()?.mtimeMs ?? null;
    }

    /** The models directory's mtime and inode; `null` when there is no directory (yet). */
    private dirStat(): { mtimeMs: number; ino: number } | null {
        try {
            const { mtimeMs, ino } = statSync(this.options.modelsDir);
            return { mtimeMs, ino };
        } catch {
            return null;
        }
    }

    private now(): number {
        return (this.options.clock ?? performance.now.bind(performance))();
    }

    private scanDirectory(): Array<{ id: string; path: string; sizeBytes: number; mtimeMs: number }> {
        let entries: string[];
        try {
            entries = readdirSync(this.options.modelsDir);
        } catch {
            return [];
        }
        const found: Array<{ id: string; path: string; sizeBytes: number; mtimeMs: number }> = [];
        for (const name of entries.sort()) {
            if (!name.toLowerCase().endsWith(".gguf") || name.startsWith("mmproj")) continue;
            const full = path.join(this.options.modelsDir, name);
            let facts: { sizeBytes: number; mtimeMs: number };
            try {
                const stat = statSync(full);
                if (!stat.isFile()) continue;
                facts = { sizeBytes: stat.size, mtimeMs: stat.mtimeMs };
            } catch {
                continue;
            }
            const shard = splitPart(name);
            if (shard) {
                // Only the first shard names a model; llama.cpp finds the rest beside it.
                if (shard.part !== 1) continue;
                found.push({ id: shard.stem, path: full, ...facts });
                continue;
            }
            found.push({ id: name.slice(0, -".gguf".length), path: full, ...facts });
        }
        return found;
    }

    private checkConfigured(): void {
        const seen = new Map<string, string>();
        this.options.configured.forEach((model, index) => {
            const idKey = `models[${index}].id`;
            if (seen.has(model.id)) throw new ModelRegistryError(`${idKey}: '${model.id}' is already used by ${seen.get(model.id)}`, idKey);
            seen.set(model.id, idKey);
        });
        this.options.configured.forEach((model, index) => {
            model.aliases.forEach((alias, aliasIndex) => {
                const key = `models[${index}].aliases[${aliasIndex}]`;
                if (seen.has(alias)) throw new ModelRegistryError(`${key}: alias '${alias}' collides with ${seen.get(alias)}`, key);
                seen.set(alias, key);
            });
        });
        const files = this.scanDirectory();
        for (const file of files) {
            const configuredAt = seen.get(file.id);
            if (configuredAt && configuredAt.endsWith("]") && configuredAt.includes(".aliases[")) {
                throw new ModelRegistryError(`${configuredAt}: alias '${file.id}' collides with the id of the model file ${file.path}`, configuredAt);
            }
        }
    }

    private warnOnce(message: string): void {
        if (this.warned.has(message)) return;
        this.warned.add(message);
        this.options.onWarning?.(message);
    }
}

/** What a pull recorded about a model (its checksum and source); nothing for files copied in by hand. */
function pulledFacts(modelsDir: string, id: string): { sha256?: string; pulledFrom?: string } {
    const meta = readModelFileMeta(modelsDir, id);
    const sha256 = meta?.files[0]?.sha256;
    return meta && sha256 ? { sha256, pulledFrom: meta.source } : {};
}

function fileFacts(filePath: string): { sizeBytes: number; mtimeMs: number } {
    try {
        const stat = statSync(filePath);
        return { sizeBytes: stat.size, mtimeMs: stat.mtimeMs };
    } catch {
        return { sizeBytes: 0, mtimeMs: 0 };
    }
}
