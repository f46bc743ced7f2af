import { getLlama } from "node-llama-cpp";
const [modelPath, mode, conc] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4])];
const llama = await getLlama({ build: "never", maxThreads: 0, gpu: false });
const model = await llama.loadModel({ modelPath });
let ctxRef: any;
let threadsNow = -1;
const params = 85e6 * (modelPath.includes("768d") ? 1 : 0.003);
const context = await model.createContext({
    contextSize: 512 * 8, sequences: 8, threads: mode === "1" ? 1 : 2,
    batching: { itemPrioritizationStrategy: ({ items, size }: any) => {
        if (mode === "adaptive") {
            const tokens = items.reduce((s: number, i: any) => s + Math.min(i.tokens.length, size), 0);
            const want = tokens * params >= Number(process.env.TH ?? 256e6) ? 2 : 1;
            const c = ctxRef?._threadSplitterConsumer; if (c) c._wantedThreads = want; threadsNow = want;
        }
        let left = size; return items.map((item: any) => { const n = Math.min(item.tokens.length, left); left -= n; return { item, processAmount: n }; }).filter((x: any) => x.processAmount > 0);
    } }
});
ctxRef = context;
const prompt = model.tokenize(" Once upon a time there was");
const seqs = Array.from({ length: conc }, () => context.getSequence());
async function one(_: unknown, i: number): Promise<number> {
    const seq = seqs[i]!;
    await seq.clearHistory();
    let n = 0;
    for await (const _t of seq.evaluate([...prompt], { temperature: 0 })) { if (++n >= 32) break; }
    return n;
}
for (let r = 0; r < 2; r++) {
    const t = performance.now();
    const counts = await Promise.all(Array.from({ length: conc }, one));
    const s = (performance.now() - t) / 1000;
    if (r) console.log(mode, "c=" + conc, (counts.reduce((a, b) => a + b) / s).toFixed(1), "tok/s");
}
await llama.dispose();
