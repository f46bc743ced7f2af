import { QuandexError } from "@quandex/protocol";

/** Where a model comes from, parsed from the `source` a user gives to `quandex pull`. */
export type PullSource =
    | {
          kind: "hf";
          owner: string;
          repo: string;
          /** A quantisation to pick (`Q4_K_M`), matched against the repo's file names. */
          quant: string | null;
          /** A file path inside the repo (`path/to/model.gguf`), instead of a quantisation. */
          file: string | null;
          /** Branch, tag or commit. Defaults to `main`. */
          revision: string;
      }
    | { kind: "url"; url: URL };

const namePart = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Parses a pull source:
 * - `hf:<owner>/<repo>` (the repo's only model), `hf:<owner>/<repo>:<quant>`;
 * - `hf:<owner>/<repo>/<path/to/file.gguf>[#revision]`;
 * - `https://…/file.gguf` (or `http://`, for a mirror on a private network).
 *
 * @throws QuandexError `invalid_parameter` (param `source`) for anything else.
 */
export function parsePullSource(source: string): PullSource {
    const refuse = (detail: string): QuandexError => new QuandexError("invalid_parameter", { param: "source", detail }, { param: "source" });
    const text = source.trim();
    if (text.startsWith("hf:")) {
        let rest = text.slice(3).replace(/^\/\//, "");
        let revision = "main";
        const hash = rest.indexOf("#");
        if (hash !== -1) {
            revision = rest.slice(hash + 1);
            rest = rest.slice(0, hash);
            if (revision === "") throw refuse("the revision after '#' is empty.");
        }
        const [owner, repoAndQuant, ...path] = rest.split("/");
        if (!owner || !repoAndQuant) throw refuse(`'${source}' must be hf:<owner>/<repo>[:<quant>] or hf:<owner>/<repo>/<file.gguf>[#revision].`);
        const colon = repoAndQuant.indexOf(":");
        const repo = colon === -1 ? repoAndQuant : repoAndQuant.slice(0, colon);
        const quant = colon === -1 ? null : repoAndQuant.slice(colon + 1);
        if (!namePart.test(owner) || !namePart.test(repo)) throw refuse(`'${owner}/${repo}' is not a Hugging Face repo name.`);
        if (quant !== null && !/^[A-Za-z0-9_.-]+$/.test(quant)) throw refuse(`'${quant}' is not a quantisation name such as Q4_K_M.`);
        const file = path.length > 0 ? path.join("/") : null;
        if (file !== null && quant !== null) throw refuse("give either a quantisation (:Q4_K_M) or a file path, not both.");
        if (file !== null && (!file.toLowerCase().endsWith(".gguf") || path.some((part) => part === "" || part === "." || part === ".."))) {
            throw refuse(`'${file}' must be a .gguf file path inside the repo.`);
        }
        if (hash !== -1 && file === null) throw refuse("a #revision goes with a file path: hf:<owner>/<repo>/<file.gguf>#<revision>.");
        return { kind: "hf", owner, repo, quant, file, revision };
    }
    let url: URL;
    try {
        url = new URL(text);
    } catch {
        throw refuse(`'${source}' is neither hf:<owner>/<repo>[:<quant>] nor an http(s) URL.`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") throw refuse(`'${url.protocol}' URLs are not supported; use https:// or hf:.`);
    if (url.username !== "" || url.password !== "") throw refuse("credentials in the URL are not accepted; Hugging Face tokens go in HF_TOKEN.");
    if (!decodeURIComponent(url.pathname).toLowerCase().endsWith(".gguf")) throw refuse(`'${url.pathname}' does not name a .gguf file.`);
    return { kind: "url", url };
}

/** The source written back in one canonical form, the key under which pulls are shared. */
export function formatPullSource(source: PullSource): string {
    if (source.kind === "url") return source.url.href;
    const base = `hf:${source.owner}/${source.repo}`;
    if (source.file !== null) return `${base}/${source.file}${source.revision === "main" ? "" : `#${source.revision}`}`;
    return source.quant === null ? base : `${base}:${source.quant.toUpperCase()}`;
}
