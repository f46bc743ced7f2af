/** `name-00001-of-00003.gguf`: a model split into parts, as llama.cpp's `gguf-split` names them. */
const splitPattern = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

/** A file name's split part, or `null` for a single-file model. */
export function splitPart(fileName: string): { stem: string; part: number; parts: number } | null {
    const match = splitPattern.exec(fileName);
    if (!match) return null;
    return { stem: match[1]!, part: Number(match[2]), parts: Number(match[3]) };
}

/** The name of part `part` of `parts` for a model whose id is `id`. */
export function splitPartName(id: string, part: number, parts: number): string {
    return `${id}-${String(part).padStart(5, "0")}-of-${String(parts).padStart(5, "0")}.gguf`;
}

/** A model file's id: its stem, without the split suffix. */
export function modelIdOf(fileName: string): string {
    const split = splitPart(fileName);
    if (split) return split.stem;
    return fileName.replace(/\.gguf$/i, "");
}
