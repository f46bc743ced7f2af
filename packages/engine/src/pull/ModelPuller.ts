import { QuandexError } from "@quandex/protocol";
import { silentLogger, type Logger } from "../Logger.js";
import { HuggingFaceHub } from "./HuggingFaceHub.js";
import { ModelPull, type PullState } from "./ModelPull.js";
import { parsePullSource } from "./PullSource.js";
import { resolvePull } from "./resolvePull.js";

export interface ModelPullerOptions {
    modelsDir: string;
    /** A Hugging Face token for gated and private repos; sent to the hub only, never logged. Defaults to none. */
    hfToken?: string | null;
    /** The hub's base URL (a mirror, or a local server in tests). Defaults to `https://huggingface.co/`. */
    hfEndpoint?: string;
    /** Called once a pulled model's files are in the models dir. */
    onPlaced?: (id: string) => void;
    logger?: Logger;
    fetch?: typeof fetch;
}

/** Finished pulls kept for `GET /v1/models/pulls/{id}` after they end. */
const keptFinished = 64;

/**
 * Starts pulls and keeps them by id. A pull is resolved first (source, file, size, checksum), so a
 * bad source is refused before anything is downloaded; two pulls of the same source and id share
 * one download.
 */
export class ModelPuller {
    private readonly pulls = new Map<string, ModelPull>();
    private readonly active = new Map<string, ModelPull>();
    private readonly hub: HuggingFaceHub;
    private closed = false;

    constructor(private readonly options: ModelPullerOptions) {
        this.hub = new HuggingFaceHub({ endpoint: options.hfEndpoint, token: options.hfToken ?? null, fetch: options.fetch });
    }

    /**
     * @throws QuandexError `invalid_parameter` for a source that is neither `hf:` nor `http(s)://`,
     *   or ambiguous; `model_not_found` for one that does not exist; `download_failed` when it cannot
     *   be reached.
     */
    async start(source: string, options: { id?: string; signal?: AbortSignal } = {}): Promise<ModelPull> {
        if (this.closed) throw new QuandexError("server_shutdown");
        const plan = await resolvePull(parsePullSource(source), { hub: this.hub, id: options.id, signal: options.signal, fetch: this.options.fetch });
        const key = `${plan.source}\0${plan.id}`;
        const running = this.active.get(key);
        if (running) return running;
        const pull = new ModelPull(plan, {
            modelsDir: this.options.modelsDir,
            hfToken: this.options.hfToken ?? null,
            hfEndpoint: this.hub.endpoint,
            onPlaced: (id) => this.options.onPlaced?.(id),
            logger: this.options.logger ?? silentLogger
        });
        this.active.set(key, pull);
        this.pulls.set(pull.id, pull);
        void pull.done.then(() => {
            this.active.delete(key);
            this.forgetOld();
        });
        return pull;
    }

    get(id: string): ModelPull | undefined {
        return this.pulls.get(id);
    }

    list(): PullState[] {
        return [...this.pulls.values()].map((pull) => pull.snapshot());
    }

    /** Stops every running pull, keeping their downloads for a later pull to resume, and waits for them. */
    async close(): Promise<void> {
        this.closed = true;
        const running = [...this.active.values()];
        for (const pull of running) pull.cancel();
        await Promise.all(running.map((pull) => pull.done));
    }

    private forgetOld(): void {
        const finished = [...this.pulls.values()].filter((pull) => pull.finished);
        for (const pull of finished.slice(0, Math.max(0, finished.length - keptFinished))) this.pulls.delete(pull.id);
    }
}
