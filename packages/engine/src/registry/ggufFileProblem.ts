import { checkGgufFile } from "../nodeLlama/checkGgufFile.js";

/**
 * Why a model file cannot be served, from the structural check every load runs first
 * (`checkGgufFile`: the header parses, every tensor starts inside the file), or `null` when it
 * passes. It reads the header only, so the registry runs it on every new or changed file and
 * `/v1/models` can say `error` and why before anyone asks for the model. Never throws.
 */
export async function ggufFileProblem(filePath: string): Promise<string | null> {
    try {
        await checkGgufFile(filePath);
        return null;
    } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        // checkGgufFile's message names the file, which the listing shows already.
        const prefix = `Broken model file ${filePath}: `;
        if (message.startsWith(prefix)) return message.slice(prefix.length);
        return `the file cannot be read (${message})`;
    }
}
