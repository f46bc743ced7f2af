import { marked, type Token, type Tokens } from "marked";

/**
 * How a documentation code block is treated by the docs test, from the HTML comment right before
 * its fence (invisible when rendered):
 *
 *   <!-- doc-test: run -->                 run it against the test's server
 *   <!-- doc-test: env -->                 run it, and put it in front of every later shell block of
 *                                          the same file (a block of `export`s the others use)
 *   <!-- doc-test: template WHAT -->       not run: a template; WHAT says what to replace, and the
 *                                          block itself must say "template" where a reader sees it
 *   <!-- doc-test: skip REASON -->         not run, for REASON (needs internet, a GPU, minutes of build)
 *
 * Blocks in a data language (json, yaml, text, …) show output or configuration and are not run.
 * A block in any other language, or without a language, must carry a marker: an unmarked block is
 * an error, so a new example cannot slip past the test.
 */
export type DocBlockMode = "run" | "env" | "template" | "skip";

export interface DocBlock {
    file: string;
    /** 1-based line of the opening fence. */
    line: number;
    /** The fence's language, lower-cased; "" when none. */
    lang: string;
    code: string;
    mode: DocBlockMode | null;
    /** The template's or skip's reason. */
    reason: string;
}

/** Languages whose blocks are shown, not run. */
export const dataLanguages: ReadonlySet<string> = new Set(["json", "jsonc", "yaml", "yml", "text", "txt", "mermaid", "toml", "ini", "http", "diff", "sql"]);

/** Languages the test knows how to run, by runner. */
export const runLanguages: Readonly<Record<string, "shell" | "python" | "typescript">> = {
    bash: "shell",
    sh: "shell",
    shell: "shell",
    python: "python",
    py: "python",
    ts: "typescript",
    typescript: "typescript",
    js: "typescript",
    javascript: "typescript",
    mjs: "typescript"
};

const markerPattern = /<!--\s*doc-test:\s*(run|env|template|skip)\b\s*(.*?)\s*-->/g;

/** Every fenced code block of a Markdown document, in order, with its doc-test marker. */
export function extractDocBlocks(file: string, markdown: string): DocBlock[] {
    const blocks: DocBlock[] = [];
    let cursor = 0;
    const visit = (tokens: readonly Token[]): void => {
        let pending: { mode: DocBlockMode; reason: string } | null = null;
        for (const token of tokens) {
            if (token.type === "space") continue;
            if (token.type === "html") {
                const markers = [...(token as Tokens.HTML).text.matchAll(markerPattern)];
                const last = markers.at(-1);
                pending = last ? { mode: last[1] as DocBlockMode, reason: last[2] ?? "" } : null;
                continue;
            }
            if (token.type === "code" && !(token as Tokens.Code).codeBlockStyle) {
                const code = token as Tokens.Code;
                // Nested tokens (in list items) are dedented, so the fence is found by its first
                // content line, searched from the previous block on.
                const firstLine = code.text.split("\n")[0] ?? "";
                const at = markdown.indexOf(firstLine, cursor);
                const contentStart = at === -1 ? cursor : at;
                cursor = contentStart + firstLine.length;
                const line = markdown.slice(0, contentStart).split("\n").length - 1;
                blocks.push({
                    file,
                    line,
                    lang: (code.lang ?? "").trim().split(/\s+/)[0]!.toLowerCase(),
                    code: code.text,
                    mode: pending?.mode ?? null,
                    reason: pending?.reason ?? ""
                });
            }
            pending = null;
            const nested = (token as { tokens?: Token[]; items?: Token[] }).items ?? (token as { tokens?: Token[] }).tokens;
            if (nested && token.type !== "code") visit(nested);
        }
    };
    visit(marked.lexer(markdown));
    return blocks;
}

/** What is wrong with a block's marking, or null: the docs test fails on every one of these. */
export function markingProblem(block: DocBlock): string | null {
    const where = `${block.file}:${block.line}`;
    if (block.mode === null) {
        if (dataLanguages.has(block.lang)) return null;
        if (block.lang === "") return `${where}: a fenced block without a language: name one (\`\`\`text for output, \`\`\`bash for commands, …)`;
        return `${where}: a \`${block.lang}\` block without a <!-- doc-test: run|env|template|skip … --> marker before its fence`;
    }
    if ((block.mode === "run" || block.mode === "env") && !(block.lang in runLanguages)) {
        return `${where}: marked ${block.mode}, but the test cannot run \`${block.lang || "(no language)"}\` blocks (it runs ${Object.keys(runLanguages).join(", ")})`;
    }
    if (block.mode === "env" && runLanguages[block.lang] !== "shell") return `${where}: only shell blocks can be marked env`;
    if ((block.mode === "template" || block.mode === "skip") && block.reason === "") return `${where}: a ${block.mode} marker needs a reason`;
    if (block.mode === "template" && !/template/i.test(block.code)) {
        return `${where}: a template must say so where a reader sees it: write "template: ${block.reason}" in the block`;
    }
    return null;
}
