import { createHash, randomBytes } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, statfs } from "node:fs/promises";
import path from "node:path";
import { createModelDownloader } from "node-llama-cpp";
import { formatBytes, QuandexError, type ErrorBody } from "@quandex/protocol";
import type { Logger } from "../Logger.js";
import { checkGgufFile } from "../nodeLlama/checkGgufFile.js";
import { takePidLock } from "../system/takePidLock.js";
import { describe } from "./HuggingFaceHub.js";
import { quandexDir, readModelFileMeta, writeModelFileMeta } from "./modelFileMeta.js";
import type { PullPlan } from "./resolvePull.js";
import { sha256OfFile } from "./sha256OfFile.js";

export type PullStatus = "downloading" | "verifying" | "ready" | "error";

/** A pull's progress, as the API and the CLI show it. */
export interface PullState {
    id: string;
    source: string;
    /** The id the model gets. */
    model: string;
    status: PullStatus;
    /** `null` when the source did not say. */
    totalBytes: number | null;
    downloadedBytes: number;
    /** Average over the download so far; 0 before bytes arrive. */
    bytesPerSecond: number;
    /** SHA-256 of the (first) file once verified. */
    sha256: string | null;
    /** The failure, in the catalogue's shape, once `status` is `error`. */
    error: ErrorBody["error"] | null;
    /** True when the model was already in the models dir, identical, and nothing was downloaded. */
    alreadyPresent: boolean;
    startedAt: string;
    finishedAt: string | null;
}

export interface ModelPullContext {
    modelsDir: string;
    /** Sent to Hugging Face only (node-llama-cpp sends it to the hub's URLs alone). */
    hfToken: string | null;
    hfEndpoint: string;
    /** Called once the files are in the models dir, so the registry lists the model at once. */
    onPlaced(id: string): void;
    logger: Logger;
}

/**
 * One pull: download with node-llama-cpp's downloader into a staging folder inside the models
 * dir (`.quandex/pulls/<key>/`, which the registry never lists), check the GGUF header the registry
 * uses and each file's SHA-256 against what the source publishes, record it, then rename the files
 * into the models dir. A half-downloaded or unverified file is therefore never listed or loaded.
 *
 * Interrupted (network lost for good, cancelled, the server stopped), the staging folder stays:
 * the next pull of the same source and id resumes from it with Range requests (ipull, under
 * node-llama-cpp, keeps its progress per 5 MiB chunk). A file that fails verification, or a
 * full disk, removes it. One process pulls a given staging folder at a time (a lock file).
 */
export class ModelPull {
    readonly id = `pull_${randomBytes(9).toString("hex")}`;
    readonly done: Promise<PullState>;
    private state: PullState;
    private readonly listeners = new Set<(state: PullState) => void>();
    private readonly abort = new AbortController();
    private readonly started = performance.now();

    constructor(
        readonly plan: PullPlan,
        private readonly context: ModelPullContext
    ) {
        this.state = {
            id: this.id,
            source: plan.source,
            model: plan.id,
            status: "downloading",
            totalBytes: plan.totalBytes,
            downloadedBytes: 0,
            bytesPerSecond: 0,
            sha256: null,
            error: null,
            alreadyPresent: false,
            startedAt: new Date().toISOString(),
            finishedAt: null
        };
        this.done = this.run().then(
            () => this.state,
            () => this.state
        );
    }

    /** The staging folder of a plan: stable for the same source and id, so a later pull resumes there. */
    static stagingDir(modelsDir: string, plan: PullPlan): string {
        const key = createHash("sha256").update(`${plan.source}\0${plan.id}`).digest("hex").slice(0, 20);
        return path.join(quandexDir(modelsDir), "pulls", key);
    }

    snapshot(): PullState {
        return { ...this.state };
    }

    get finished(): boolean {
        return this.state.status === "ready" || this.state.status === "error";
    }

    /** Called on every change, until the pull finishes. Returns the unsubscribe. */
    subscribe(listener: (state: PullState) => void): () => void {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }

    /** Stops the download and keeps what it has, for a later pull to resume. */
    cancel(reason: unknown = new QuandexError("server_shutdown")): void {
        this.abort.abort(reason);
    }

    private update(patch: Partial<PullState>): void {
        this.state = { ...this.state, ...patch };
        const state = this.snapshot();
        for (const listener of this.listeners) listener(state);
    }

    private async run(): Promise<void> {
        const { plan, context } = this;
        const staging = ModelPull.stagingDir(context.modelsDir, plan);
        let release: (() => void) | undefined;
        let keepStaging = true;
        try {
            if (await this.alreadyPresent()) return;
            this.refuseTakenId();
            await mkdir(staging, { recursive: true });
            release = lock(staging, plan.source);
            await this.refuseWithoutRoom(staging);
            await this.download(staging);
            keepStaging = false;
            this.update({ status: "verifying" });
            const verified = await this.verify(staging);
            await this.place(staging, verified);
            await rm(staging, { recursive: true, force: true });
            context.onPlaced(plan.id);
            context.logger.info({ model: plan.id, source: plan.source, bytes: this.state.downloadedBytes }, "model pulled");
            this.update({ status: "ready", sha256: verified[0]?.sha256 ?? null, finishedAt: new Date().toISOString() });
        } catch (error) {
            const failure = this.explain(error);
            // Verification failures and a full disk leave nothing behind; an interruption keeps the
            // staging folder for the next pull to resume.
            if (!keepStaging || failure.code === "insufficient_storage") await rm(staging, { recursive: true, force: true }).catch(() => undefined);
            context.logger.warn({ model: plan.id, source: plan.source, err: failure.message }, "model pull failed");
            this.update({ status: "error", error: failure.toBody().error, finishedAt: new Date().toISOString() });
            throw failure;
        } finally {
            release?.();
        }
    }

    /** The model is already in the models dir with the same files (by recorded checksum): nothing to fetch. */
    private async alreadyPresent(): Promise<boolean> {
        const { plan, context } = this;
        const meta = readModelFileMeta(context.modelsDir, plan.id);
        if (!meta || meta.files.length !== plan.files.length) return false;
        const same = plan.files.every((file, index) => {
            const recorded = meta.files[index]!;
            const onDisk = path.join(context.modelsDir, file.name);
            return recorded.name === file.name && existsSync(onDisk) && statSync(onDisk).size === recorded.size && (file.sha256 === null || file.sha256 === recorded.sha256);
        });
        if (!same) return false;
        const total = meta.files.reduce((sum, file) => sum + file.size, 0);
        this.update({ status: "ready", alreadyPresent: true, totalBytes: total, sha256: meta.files[0]?.sha256 ?? null, finishedAt: new Date().toISOString() });
        return true;
    }

    /** Another file already answers to this id: the pull must not replace it silently. */
    private refuseTakenId(): void {
        const { plan, context } = this;
        const taken = plan.files.find((file) => existsSync(path.join(context.modelsDir, file.name)));
        if (taken) {
            throw new QuandexError("model_exists", {
                model: plan.id,
                detail: `${taken.name} is in the models dir already; delete it first (quandex rm ${plan.id}) or pull under another id (--as).`
            });
        }
    }

    /**
     * A download that cannot fit is refused before its first byte: the disk's free space against
     * what is left to fetch (the size less what a resumed download already has). A disk that fills
     * up during the download anyway is caught where the write fails.
     */
    private async refuseWithoutRoom(staging: string): Promise<void> {
        const total = this.plan.totalBytes;
        if (total === null) return;
        let have = 0;
        for (const name of await readdir(staging)) if (name.endsWith(".gguf.ipull") || name.endsWith(".gguf")) have += (await stat(path.join(staging, name))).size;
        const { bavail, bsize } = await statfs(staging);
        const free = bavail * bsize;
        const needed = Math.max(0, total - have);
        if (needed > free) {
            throw new QuandexError("insufficient_storage", {
                detail: `pulling ${this.plan.source} needs ${formatBytes(needed)} more in ${this.context.modelsDir}, which has ${formatBytes(free)} free; nothing was downloaded.`
            });
        }
    }

    private async download(staging: string): Promise<void> {
        const { plan, context } = this;
        const downloader = await createModelDownloader({
            modelUri: plan.modelUri,
            dirPath: staging,
            fileName: `${plan.id}.gguf`,
            // null: never read a token from the environment or ~/.cache on our own; only the configured one.
            tokens: { huggingFace: context.hfToken ?? (null as unknown as undefined) },
            endpoints: { huggingFace: context.hfEndpoint },
            skipExisting: true,
            deleteTempFileOnCancel: false,
            parallelDownloads: 2,
            onProgress: ({ totalSize, downloadedSize }) => {
                const seconds = (performance.now() - this.started) / 1000;
                this.update({
                    totalBytes: totalSize > 0 ? totalSize : this.state.totalBytes,
                    downloadedBytes: downloadedSize,
                    bytesPerSecond: seconds > 0 ? Math.round(downloadedSize / seconds) : 0
                });
            }
        }).catch((error: unknown) => {
            throw this.fromDownloader(error);
        });
        this.update({ totalBytes: downloader.totalSize > 0 ? downloader.totalSize : this.state.totalBytes });
        try {
            await downloader.download({ signal: this.abort.signal });
        } catch (error) {
            // One stream failed (a full disk, a refusal): stop the others, keeping what they wrote.
            await downloader.cancel({ deleteTempFile: false }).catch(() => undefined);
            throw this.fromDownloader(error);
        }
        // A cancelled download can return without an error; what it left stays for a resume.
        if (this.abort.signal.aborted) throw this.abort.signal.reason;
        this.update({ downloadedBytes: downloader.downloadedSize || downloader.totalSize });
    }

    /** The same header check the registry's loader runs, then each file's checksum. */
    private async verify(staging: string): Promise<Array<{ name: string; size: number; sha256: string }>> {
        const { plan } = this;
        const verified: Array<{ name: string; size: number; sha256: string }> = [];
        // The header first: an HTML page or a truncated body says more than its size would.
        try {
            await checkGgufFile(path.join(staging, plan.files[0]!.name));
        } catch (error) {
            const head = await readFile(path.join(staging, plan.files[0]!.name)).then(
                (bytes) => bytes.subarray(0, 64).toString("latin1"),
                () => ""
            );
            const html = /<!doctype html|<html/i.test(head) ? " (the server sent an HTML page)" : "";
            throw this.failed(`the download is not a readable GGUF model${html}: ${error instanceof Error ? error.message : String(error)}`);
        }
        for (const file of plan.files) {
            const filePath = path.join(staging, file.name);
            if (!existsSync(filePath)) throw this.failed(`${file.name} is missing after the download.`);
            const size = statSync(filePath).size;
            if (file.size !== null && size !== file.size) throw this.failed(`${file.name} has ${size} bytes, the source said ${file.size}.`);
        }
        for (const file of plan.files) {
            const filePath = path.join(staging, file.name);
            const sha256 = await sha256OfFile(filePath, this.abort.signal);
            if (file.sha256 !== null && sha256 !== file.sha256)
                throw this.failed(`the SHA-256 of ${file.name} is ${sha256}, the source publishes ${file.sha256}; the file was deleted.`);
            verified.push({ name: file.name, size: statSync(filePath).size, sha256 });
        }
        return verified;
    }

    /** The record first, then the files (each a rename within one filesystem): the registry lists the model only when all is there. */
    private async place(staging: string, verified: Array<{ name: string; size: number; sha256: string }>): Promise<void> {
        const { plan, context } = this;
        this.refuseTakenId();
        await writeModelFileMeta(context.modelsDir, plan.id, { source: plan.source, files: verified, pulledAt: new Date().toISOString() });
        // Parts after the first, then the first, which is the one the registry names the model by.
        for (const file of [...verified.slice(1), verified[0]!]) await rename(path.join(staging, file.name), path.join(context.modelsDir, file.name));
    }

    private explain(error: unknown): QuandexError {
        if (this.abort.signal.aborted) {
            const reason: unknown = this.abort.signal.reason;
            return reason instanceof QuandexError
                ? reason
                : new QuandexError("download_failed", { source: this.plan.source, detail: "the pull was cancelled; pull again to resume." });
        }
        if (error instanceof QuandexError) return error;
        return this.fromDownloader(error);
    }

    private fromDownloader(error: unknown): QuandexError {
        if (error instanceof QuandexError) return error;
        if (this.abort.signal.aborted) return this.explain(error);
        if (isNoSpace(error))
            return new QuandexError(
                "insufficient_storage",
                { detail: `the models dir ${this.context.modelsDir} ran out of space while pulling ${this.plan.source}; the partial download was removed.` },
                { cause: error }
            );
        const text = describe(error);
        if (/\b404\b|not found|does not exist/i.test(text)) {
            return new QuandexError("model_not_found", { model: this.plan.source }, { param: "source", message: `The model source '${this.plan.source}' was not found: ${text}` });
        }
        return this.failed(`${text}; pull again to resume.`, error);
    }

    private failed(detail: string, cause?: unknown): QuandexError {
        return new QuandexError("download_failed", { source: this.plan.source, detail }, { cause });
    }
}

function isNoSpace(error: unknown): boolean {
    for (let at: unknown = error, depth = 0; at instanceof Error && depth < 8; at = at.cause, depth++) {
        if ((at as NodeJS.ErrnoException).code === "ENOSPC" || /ENOSPC|no space left/i.test(at.message)) return true;
    }
    return false;
}

/** Takes the staging folder for this process; one held by a live process refuses. */
function lock(staging: string, source: string): () => void {
    const taken = takePidLock(path.join(staging, "lock"));
    if ("release" in taken) return taken.release;
    throw new QuandexError("model_busy", {
        model: source,
        detail: taken.heldBy > 0 ? `another Quandex process (pid ${taken.heldBy}) is pulling it into the same models dir.` : "its staging folder is locked."
    });
}
