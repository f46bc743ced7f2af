/**
 * Writes a llama-architecture GGUF v3 model with random F16 weights (normal, std 0.02) and a real
 * tokenizer (copied from the test model), so benchmarks can measure realistic compute without shipping
 * weights. Random bytes would not do: they decode to NaN/Inf halves and break the forward pass.
 *
 * From the shell: `npm run bench:model -- [--preset 85m|tiny|slow] [--dim N] ...`
 * (bench/src/syntheticModelCli.ts), which prints the written file's path and size as JSON.
 */
import { mkdir, rename, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { GgmlType, GgufValueType, type GgufValue } from "./gguf/ggufFormat.js";
import { readGgufHeader } from "./gguf/readGgufHeader.js";
import { writeGgufFile, type GgufTensorSource } from "./gguf/writeGgufFile.js";
import { SeededRandom } from "./SeededRandom.js";
import { testModelPath } from "./testModel.js";

export type SyntheticModelShape = {
    /** Embedding width (`llama.embedding_length`). Defaults to 768. */
    dim: number;
    /** Transformer blocks. Defaults to 12. */
    layers: number;
    /** Attention heads; `dim` must divide by it. Defaults to 12, or `dim / 64` (head dim 64) when `dim` is given. */
    heads: number;
    /** Key/value heads (GQA when fewer than `heads`); `heads` must divide by it. Defaults to `heads`. */
    kvHeads: number;
    /** Feed-forward width. Defaults to 2048. */
    ffn: number;
};

export type MakeSyntheticModelOptions = Partial<SyntheticModelShape> & {
    /** Where to write; a folder under the OS temp dir named after the shape when omitted. */
    outPath?: string;
    /** Model whose `tokenizer.*` metadata is copied. Defaults to the stories260K test model. */
    tokenizerFrom?: string;
    /** `llama.context_length`. Defaults to 2048. */
    contextLength?: number;
    /** Standard deviation of the weights. Defaults to 0.02. */
    std?: number;
    /** PRNG seed; the same seed and shape give the same bytes. Defaults to 1. */
    seed?: number;
    /**
     * Keep an existing file at `outPath` when it was written by this generator with the same shape,
     * seed and tokenizer. Defaults to `true`.
     */
    reuse?: boolean;
};

export type SyntheticModel = {
    path: string;
    parameters: number;
    bytes: number;
    /** Seconds spent writing; 0 when an existing file was reused. */
    seconds: number;
    reused: boolean;
    shape: SyntheticModelShape;
};

export const syntheticModelPresets = {
    /** About 85.7M parameters: the "realistic compute" model of the measurements. */
    "85m": { dim: 768, layers: 12, heads: 12, kvHeads: 12, ffn: 2048 },
    /** Loads and runs in milliseconds; for tests. */
    tiny: { dim: 64, layers: 2, heads: 4, kvHeads: 4, ffn: 128 },
    /** About 308M parameters (~0.6 GB): slow to load, for load-time and timeout tests. */
    slow: { dim: 1024, layers: 24, heads: 16, kvHeads: 16, ffn: 2816 }
} satisfies Record<string, SyntheticModelShape>;

const SPEC_KEY = "quandex.synthetic_spec";

export async function makeSyntheticModel(options: MakeSyntheticModelOptions = {}): Promise<SyntheticModel> {
    const preset = syntheticModelPresets["85m"];
    const shape: SyntheticModelShape = {
        dim: options.dim ?? preset.dim,
        layers: options.layers ?? preset.layers,
        heads: options.heads ?? (options.dim == null ? preset.heads : Math.max(1, options.dim / 64)),
        kvHeads: 0,
        ffn: options.ffn ?? preset.ffn
    };
    shape.kvHeads = options.kvHeads ?? shape.heads;
    validateShape(shape);
    const contextLength = options.contextLength ?? 2048;
    const std = options.std ?? 0.02;
    const seed = options.seed ?? 1;
    const tokenizerFrom = options.tokenizerFrom ?? testModelPath;

    const source = readGgufHeader(tokenizerFrom);
    const tokenizer = [...source.metadata].filter(([key]) => key.startsWith("tokenizer."));
    const tokens = source.metadata.get("tokenizer.ggml.tokens");
    if (tokens?.type !== GgufValueType.Array) throw new Error(`${tokenizerFrom} has no tokenizer.ggml.tokens`);
    const vocab = tokens.value.length;

    const spec = JSON.stringify({ ...shape, vocab, contextLength, std, seed, tokenizerFrom });
    const parameters = countParameters(shape, vocab);
    const outPath = options.outPath ?? join(tmpdir(), "quandex-bench", `synthetic-${shape.dim}d-${shape.layers}l-${shape.ffn}f-s${seed}.gguf`);

    if (options.reuse !== false && (await existingSpec(outPath)) === spec) {
        return { path: outPath, parameters, bytes: (await stat(outPath)).size, seconds: 0, reused: true, shape };
    }

    const u32 = (value: number): GgufValue => ({ type: GgufValueType.Uint32, value });
    const f32 = (value: number): GgufValue => ({ type: GgufValueType.Float32, value });
    const str = (value: string): GgufValue => ({ type: GgufValueType.String, value });
    const headDim = shape.dim / shape.heads;
    const metadata = new Map<string, GgufValue>([
        ["general.architecture", str("llama")],
        ["general.name", str(`quandex-synthetic-${formatParameters(parameters)}`)],
        ["general.file_type", u32(1)], // LLAMA_FTYPE_MOSTLY_F16
        ["general.alignment", u32(32)],
        ["llama.context_length", u32(contextLength)],
        ["llama.embedding_length", u32(shape.dim)],
        ["llama.block_count", u32(shape.layers)],
        ["llama.feed_forward_length", u32(shape.ffn)],
        ["llama.rope.dimension_count", u32(headDim)],
        ["llama.rope.freq_base", f32(10000)],
        ["llama.attention.head_count", u32(shape.heads)],
        ["llama.attention.head_count_kv", u32(shape.kvHeads)],
        ["llama.attention.layer_norm_rms_epsilon", f32(1e-5)],
        ["llama.vocab_size", u32(vocab)],
        [SPEC_KEY, str(spec)],
        ...tokenizer
    ]);

    const random = new SeededRandom(seed);
    const normal = (name: string, dimensions: number[]): GgufTensorSource => ({
        name,
        dimensions,
        type: GgmlType.F16,
        fill: (chunk) => random.fillNormal(chunk, std)
    });
    const ones = (name: string, width: number): GgufTensorSource => ({
        name,
        dimensions: [width],
        type: GgmlType.F32,
        fill: (chunk) => chunk.fill(1)
    });
    const kvDim = headDim * shape.kvHeads;
    const tensors: GgufTensorSource[] = [normal("token_embd.weight", [shape.dim, vocab]), ones("output_norm.weight", shape.dim), normal("output.weight", [shape.dim, vocab])];
    for (let layer = 0; layer < shape.layers; layer++) {
        const block = `blk.${layer}.`;
        tensors.push(
            normal(`${block}attn_q.weight`, [shape.dim, shape.dim]),
            normal(`${block}attn_k.weight`, [shape.dim, kvDim]),
            normal(`${block}attn_v.weight`, [shape.dim, kvDim]),
            normal(`${block}attn_output.weight`, [shape.dim, shape.dim]),
            ones(`${block}attn_norm.weight`, shape.dim),
            normal(`${block}ffn_gate.weight`, [shape.dim, shape.ffn]),
            normal(`${block}ffn_down.weight`, [shape.ffn, shape.dim]),
            normal(`${block}ffn_up.weight`, [shape.dim, shape.ffn]),
            ones(`${block}ffn_norm.weight`, shape.dim)
        );
    }

    await mkdir(dirname(outPath), { recursive: true });
    const started = performance.now();
    // Write beside the target and rename, so a crash never leaves a truncated file that looks reusable.
    const partialPath = `${outPath}.partial-${process.pid}`;
    const { bytes } = await writeGgufFile(partialPath, { metadata, tensors });
    await rename(partialPath, outPath);
    return { path: outPath, parameters, bytes, seconds: (performance.now() - started) / 1000, reused: false, shape };
}

/** Parameters of a llama model with untied input and output embeddings. */
export function countParameters(shape: SyntheticModelShape, vocab: number): number {
    const kvDim = (shape.dim / shape.heads) * shape.kvHeads;
    const perLayer = 2 * shape.dim * shape.dim + 2 * shape.dim * kvDim + 3 * shape.dim * shape.ffn + 2 * shape.dim;
    return 2 * vocab * shape.dim + shape.dim + shape.layers * perLayer;
}

function formatParameters(parameters: number): string {
    return parameters >= 1e9 ? `${(parameters / 1e9).toFixed(1)}B` : `${(parameters / 1e6).toFixed(1)}M`;
}

function validateShape(shape: SyntheticModelShape): void {
    for (const [key, value] of Object.entries(shape)) {
        if (!Number.isInteger(value) || value < 1) throw new Error(`${key} must be a positive integer, got ${value}`);
    }
    if (shape.dim % shape.heads !== 0) throw new Error(`dim ${shape.dim} does not divide by heads ${shape.heads}`);
    if (shape.heads % shape.kvHeads !== 0) throw new Error(`heads ${shape.heads} does not divide by kv heads ${shape.kvHeads}`);
    if ((shape.dim / shape.heads) % 2 !== 0) throw new Error(`head dim ${shape.dim / shape.heads} must be even for RoPE`);
}

async function existingSpec(path: string): Promise<string | null> {
    try {
        const value = readGgufHeader(path).metadata.get(SPEC_KEY);
        return value?.type === GgufValueType.String ? String(value.value) : null;
    } catch {
        return null;
    }
}
