import { stat } from "node:fs/promises";
import { readGgufFileInfo } from "node-llama-cpp";
import { QuandexError } from "@quandex/protocol";

/**
 * Checks a GGUF file's structure in JavaScript before llama.cpp sees it: the header must parse and
 * every tensor must start inside the file. llama.cpp rejects these cases itself today, but a
 * native abort would take the whole server down, so the cheap check runs first.
 */
export async function checkGgufFile(filePath: string): Promise<{ chatTemplate: string | null }> {
    const size = (await stat(filePath)).size;
    let info: Awaited<ReturnType<typeof readGgufFileInfo>>;
    try {
        info = await readGgufFileInfo(filePath, { readTensorInfo: true, sourceType: "filesystem", spliceSplitFiles: false, logWarnings: false });
    } catch (error) {
        throw broken(filePath, `not a readable GGUF file (${(error as Error).message})`, error);
    }
    const tensors = info.tensorInfo ?? [];
    if (tensors.length === 0) throw broken(filePath, "the file holds no tensors");
    for (const tensor of tensors) {
        const offset = Number(tensor.fileOffset);
        if (!Number.isFinite(offset) || offset < 0 || offset >= size) {
            throw broken(filePath, `tensor '${tensor.name}' starts at offset ${offset}, past the end of the ${size}-byte file`);
        }
    }
    const template = info.metadata.tokenizer?.chat_template;
    return { chatTemplate: typeof template === "string" && template.trim() !== "" ? template : null };
}

function broken(filePath: string, detail: string, cause?: unknown): QuandexError {
    return new QuandexError("model_unavailable", { model: filePath, detail }, { message: `Broken model file ${filePath}: ${detail}`, cause });
}
