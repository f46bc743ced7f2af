/**
 * The floor any HTTP layer sets on this machine: the same `sequence.evaluate` token loop measured
 * alone, behind a bare `node:http` server that writes one SSE frame per token to a client in another
 * process, and with the loop in a `worker_thread` posting each token to that server. No auth, no
 * scheduler, no JSON schema: what is left is the HTTP write, the client and the cores they share
 * with the decode. DEVELOPERS.md ("What a streamed token costs on 2 cores") quotes its runs.
 *
 * Usage: `npm run bench:http-floor -- [--model PATH] [--threads 1] [--tokens 128] [--requests 40] [--runs 3]`.
 * Each run measures the three modes in turn, each in a fresh process; prints tok/s per mode and run.
 */
import { fork } from "node:child_process";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { getLlama, LlamaLogLevel, type LlamaContext, type LlamaModel } from "node-llama-cpp";
import { testModelPath } from "@quandex/test-support";
import { isMainModule } from "./paths.js";

type Mode = "alone" | "http" | "worker-http";
type Settings = { modelPath: string; threads: number; tokens: number; requests: number };
const warmupRequests = 4;

async function loadEngine(settings: Settings): Promise<{ model: LlamaModel; context: LlamaContext }> {
    const llama = await getLlama({ build: "never", gpu: false, logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: settings.modelPath });
    const context = await model.createContext({ contextSize: 512, sequences: 1, threads: settings.threads });
    return { model, context };
}

/** One greedy generation of `tokens` tokens, each yielded as its text. */
async function* generate({ model, context }: { model: LlamaModel; context: LlamaContext }, tokens: number): AsyncGenerator<string> {
    const sequence = context.getSequence();
    try {
        const prompt = model.tokenize("Once upon a time", false);
        const bos = model.tokens.bos;
        let count = 0;
        for await (const token of sequence.evaluate(bos === null ? prompt : [bos, ...prompt], { temperature: 0 })) {
            yield model.detokenize([token]);
            if (++count >= tokens) return;
        }
    } finally {
        await sequence.dispose();
    }
}

/** Sends `requests` streaming GETs one after another (after the warm-up) and returns tok/s. */
function runClient(port: number, settings: Settings): Promise<number> {
    const agent = new http.Agent({ keepAlive: true });
    const one = (): Promise<number> =>
        new Promise((resolve, reject) => {
            const started = performance.now();
            http.get({ host: "127.0.0.1", port, agent }, (res) => {
                res.on("data", () => undefined);
                res.on("end", () => resolve(performance.now() - started));
                res.on("error", reject);
            }).on("error", reject);
        });
    return (async () => {
        for (let i = 0; i < warmupRequests; i++) await one();
        let totalMs = 0;
        for (let i = 0; i < settings.requests; i++) totalMs += await one();
        agent.destroy();
        return (settings.requests * settings.tokens) / (totalMs / 1000);
    })();
}

/** Runs one mode in this process and returns its tok/s. */
async function measure(mode: Mode, settings: Settings): Promise<number> {
    if (mode === "alone") {
        const engine = await loadEngine(settings);
        const drain = async (): Promise<void> => {
            for await (const _ of generate(engine, settings.tokens));
        };
        for (let i = 0; i < warmupRequests; i++) await drain();
        const started = performance.now();
        for (let i = 0; i < settings.requests; i++) await drain();
        return (settings.requests * settings.tokens) / ((performance.now() - started) / 1000);
    }
    let source: () => AsyncIterable<string>;
    let worker: Worker | undefined;
    if (mode === "http") {
        const engine = await loadEngine(settings);
        source = () => generate(engine, settings.tokens);
    } else {
        // Workers do not take `--import tsx` from execArgv on Node 20: register tsx inside the worker first.
        const bootstrap = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
        worker = new Worker(bootstrap, { eval: true, workerData: settings });
        await new Promise((resolve) => worker!.once("message", resolve));
        // One request at a time: the worker's messages belong to the stream being served.
        source = () => workerStream(worker!);
    }
    const server = http.createServer(async (_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        for await (const text of source()) res.write(`data: ${JSON.stringify({ choices: [{ text }] })}\n\n`);
        res.end("data: [DONE]\n\n");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const client = fork(fileURLToPath(import.meta.url), ["--client", String(port), JSON.stringify(settings)], { execArgv: ["--import", "tsx"] });
    const rate = await new Promise<number>((resolve, reject) => {
        client.once("message", (message) => resolve(Number(message)));
        client.once("error", reject);
    });
    server.close();
    await worker?.terminate();
    return rate;
}

async function* workerStream(worker: Worker): AsyncGenerator<string> {
    const queue: Array<{ text?: string; done?: boolean }> = [];
    let wake: (() => void) | undefined;
    const onMessage = (message: { text?: string; done?: boolean }): void => {
        queue.push(message);
        wake?.();
    };
    worker.on("message", onMessage);
    worker.postMessage("generate");
    try {
        while (true) {
            while (queue.length > 0) {
                const message = queue.shift()!;
                if (message.done) return;
                yield message.text!;
            }
            await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
        }
    } finally {
        worker.off("message", onMessage);
    }
}

async function workerMain(settings: Settings): Promise<void> {
    const engine = await loadEngine(settings);
    parentPort!.on("message", async () => {
        for await (const text of generate(engine, settings.tokens)) parentPort!.postMessage({ text });
        parentPort!.postMessage({ done: true });
    });
    parentPort!.postMessage({ ready: true });
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            model: { type: "string", default: testModelPath },
            threads: { type: "string", default: "1" },
            tokens: { type: "string", default: "128" },
            requests: { type: "string", default: "40" },
            runs: { type: "string", default: "3" },
            mode: { type: "string" },
            client: { type: "string" }
        },
        allowPositionals: true
    });
    if (values.client != null) {
        const settings = JSON.parse(process.argv[process.argv.length - 1]!) as Settings;
        process.send!(String(await runClient(Number(values.client), settings)));
        return;
    }
    const settings: Settings = {
        modelPath: values.model,
        threads: Number.parseInt(values.threads, 10),
        tokens: Number.parseInt(values.tokens, 10),
        requests: Number.parseInt(values.requests, 10)
    };
    if (values.mode != null) {
        process.send!(String(await measure(values.mode as Mode, settings)));
        return;
    }
    console.log(`HTTP floor: ${settings.modelPath}, threads ${settings.threads}, ${settings.tokens} tokens × ${settings.requests} requests per mode and run`);
    const modes: Mode[] = ["alone", "http", "worker-http"];
    for (let run = 1; run <= Number.parseInt(values.runs, 10); run++) {
        const rates: string[] = [];
        let alone = Number.NaN;
        for (const mode of modes) {
            // Each mode in a fresh process: no JIT or allocator state carried from the previous one.
            const child = fork(
                fileURLToPath(import.meta.url),
                [
                    "--mode",
                    mode,
                    "--model",
                    settings.modelPath,
                    "--threads",
                    String(settings.threads),
                    "--tokens",
                    String(settings.tokens),
                    "--requests",
                    String(settings.requests)
                ],
                {
                    execArgv: ["--import", "tsx"]
                }
            );
            const rate = await new Promise<number>((resolve, reject) => {
                child.once("message", (message) => resolve(Number(message)));
                child.once("exit", (code) => reject(new Error(`mode ${mode} exited with ${code}`)));
            });
            child.kill();
            if (mode === "alone") alone = rate;
            rates.push(`${mode} ${rate.toFixed(0)} tok/s${mode === "alone" ? "" : ` (${((rate / alone) * 100).toFixed(1)}%)`}`);
        }
        console.log(`run ${run}: ${rates.join(", ")}`);
    }
}

if (!isMainThread) {
    await workerMain(workerData as Settings);
} else if (isMainModule(import.meta.url)) {
    await main();
}
