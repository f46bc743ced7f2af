import { QuandexError } from "@quandex/protocol";

/** One file of a Hugging Face repo, as its tree API lists it. */
export interface HubFile {
    /** Path inside the repo. */
    path: string;
    size: number;
    /** The LFS object's SHA-256 (what `X-Linked-Etag` carries); `null` for files kept in git itself. */
    sha256: string | null;
}

export interface HuggingFaceHubOptions {
    /** The hub's base URL. Defaults to `https://huggingface.co/`. */
    endpoint?: string;
    /** A token for gated and private repos; sent to this endpoint only. */
    token?: string | null;
    fetch?: typeof fetch;
}

/**
 * The small part of the Hugging Face Hub API that node-llama-cpp's downloader does not cover: the
 * list of a repo's files with their sizes and LFS SHA-256s (`GET /api/models/{repo}/tree/{rev}`),
 * which lets a pull choose the file for a quantisation, list the candidates when it is ambiguous,
 * and verify what it downloaded. The download itself is node-llama-cpp's.
 */
export class HuggingFaceHub {
    readonly endpoint: string;
    private readonly token: string | null;
    private readonly fetch: typeof fetch;

    constructor(options: HuggingFaceHubOptions = {}) {
        const endpoint = options.endpoint ?? "https://huggingface.co/";
        this.endpoint = endpoint.endsWith("/") ? endpoint : `${endpoint}/`;
        this.token = options.token ?? null;
        this.fetch = options.fetch ?? fetch;
    }

    /**
     * Every file of `owner/repo` at `revision`, following the API's pages.
     * @throws QuandexError `model_not_found` naming `source` for a repo or revision that does not
     *   exist or that the token cannot see (the hub answers 401 for both when it has no token).
     */
    async listFiles(owner: string, repo: string, revision: string, source: string, signal?: AbortSignal): Promise<HubFile[]> {
        const files: HubFile[] = [];
        let url: string | null = `${this.endpoint}api/models/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/tree/${encodeURIComponent(revision)}?recursive=true`;
        for (let page = 0; url !== null && page < 100; page++) {
            const response = await this.get(url, source, signal);
            if (response.status === 401 || response.status === 403 || response.status === 404) {
                await response.body?.cancel();
                const gated = this.token === null ? " (a private or gated repo needs HF_TOKEN)" : "";
                throw new QuandexError(
                    "model_not_found",
                    { model: source },
                    { param: "source", message: `The model source '${source}' does not exist on ${this.endpoint}${gated}.` }
                );
            }
            if (!response.ok) {
                await response.body?.cancel();
                throw new QuandexError("download_failed", { source, detail: `the hub's file list answered ${response.status}.` });
            }
            const entries: unknown = await response.json().catch(() => null);
            if (!Array.isArray(entries)) throw new QuandexError("download_failed", { source, detail: "the hub's file list is not a JSON array." });
            for (const entry of entries) {
                if (!isRecord(entry) || entry.type !== "file" || typeof entry.path !== "string" || typeof entry.size !== "number") continue;
                const lfs = isRecord(entry.lfs) ? entry.lfs : null;
                const sha256 = lfs && typeof lfs.oid === "string" && /^[0-9a-f]{64}$/.test(lfs.oid) ? lfs.oid : null;
                files.push({ path: entry.path, size: lfs && typeof lfs.size === "number" ? lfs.size : entry.size, sha256 });
            }
            url = nextPage(response.headers.get("link"));
        }
        return files;
    }

    /** The URL node-llama-cpp and every hub client download a file from. */
    resolveUrl(owner: string, repo: string, revision: string, path: string): string {
        const encodedPath = path.split("/").map(encodeURIComponent).join("/");
        return `${this.endpoint}${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
    }

    /** Whether `url` is on this hub, so its token may be sent there. */
    owns(url: URL): boolean {
        return url.origin === new URL(this.endpoint).origin;
    }

    /** The headers a request to `url` carries: the token, only when `url` is on this hub. */
    headersFor(url: URL): Record<string, string> {
        return this.token !== null && this.owns(url) ? { authorization: `Bearer ${this.token}` } : {};
    }

    private async get(url: string, source: string, signal: AbortSignal | undefined): Promise<Response> {
        try {
            return await this.fetch(url, { headers: this.headersFor(new URL(url)), signal });
        } catch (error) {
            if (signal?.aborted) throw signal.reason;
            throw new QuandexError("download_failed", { source, detail: `could not reach ${new URL(url).origin} (${describe(error)}).` }, { cause: error });
        }
    }
}

/** `Link: <…>; rel="next"`, the hub's pagination. */
function nextPage(link: string | null): string | null {
    if (!link) return null;
    for (const part of link.split(",")) {
        const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
        if (match) return match[1]!;
    }
    return null;
}

export function describe(error: unknown): string {
    if (!(error instanceof Error)) return String(error);
    const cause = error.cause instanceof Error ? ((error.cause as NodeJS.ErrnoException).code ?? error.cause.message) : null;
    return cause ? `${error.message}: ${cause}` : error.message;
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}
