import { useState } from "preact/hooks";
import type { Api } from "../api/Api.js";
import { ApiError } from "../api/ApiError.js";
import type { StatsHistory } from "../api/StatsHistory.js";
import type { ModelEntry, Pull } from "../api/wire.js";
import { ErrorBanner } from "../components/ErrorBanner.js";
import { bytes } from "../format.js";
import { useHistory } from "./OverviewPage.js";

/** Models for admin keys: load, unload, delete, and pulls with their progress streamed as SSE. */
export function ModelsPage({ api, history }: { api: Api; history: StatsHistory }) {
    useHistory(history);
    const [error, setError] = useState<ApiError | null>(null);
    const [busy, setBusy] = useState<string | null>(null);
    const models = history.models?.models ?? [];

    async function act(id: string, label: string, call: () => Promise<unknown>): Promise<void> {
        setBusy(`${label}:${id}`);
        setError(null);
        try {
            await call();
        } catch (caught) {
            setError(ApiError.from(caught));
        } finally {
            setBusy(null);
            history.refresh();
        }
    }
    const path = (id: string) => `/v1/models/${encodeURIComponent(id)}`;

    return (
        <section>
            <h2>Models</h2>
            <ErrorBanner error={error ?? history.error} />
            <div class="table-wrap">
                <table data-testid="models-admin-table">
                    <thead>
                        <tr>
                            <th>Model</th>
                            <th>State</th>
                            <th>File size</th>
                            <th>Memory</th>
                            <th>Context</th>
                            <th>Parallel</th>
                            <th>Backend</th>
                            <th>Source</th>
                            <th>Actions</th>
                        </tr>
                    </thead>
                    <tbody>
                        {models.map((m: ModelEntry) => (
                            <tr key={m.id} data-model={m.id}>
                                <td>
                                    {m.id}
                                    {m.aliases.length > 0 && <span class="muted small"> ({m.aliases.join(", ")})</span>}
                                    {m.error && <div class="error small">{m.error}</div>}
                                </td>
                                <td>
                                    <span class={`state state-${m.status}`}>{m.status}</span>
                                </td>
                                <td>{bytes(m.size_bytes)}</td>
                                <td>{m.memory_usage}</td>
                                <td>{m.context_size ?? "—"}</td>
                                <td>{m.parallel ?? "—"}</td>
                                <td>{m.backend ?? "—"}</td>
                                <td class="small">{m.pulled_from ?? "models dir"}</td>
                                <td class="actions">
                                    <button type="button" disabled={busy !== null} onClick={() => act(m.id, "load", () => api.json("POST", `${path(m.id)}/load`))}>
                                        Load
                                    </button>
                                    <button type="button" disabled={busy !== null} onClick={() => act(m.id, "unload", () => api.json("POST", `${path(m.id)}/unload`))}>
                                        Unload
                                    </button>
                                    <button
                                        type="button"
                                        class="danger"
                                        disabled={busy !== null}
                                        onClick={() => {
                                            if (confirm(`Delete ${m.id}'s file from the models dir?`)) void act(m.id, "delete", () => api.json("DELETE", path(m.id)));
                                        }}
                                    >
                                        Delete
                                    </button>
                                </td>
                            </tr>
                        ))}
                    </tbody>
                </table>
            </div>
            <p class="muted small">The API reports no quantisation per model; a pulled file's name usually carries it.</p>
            <PullForm api={api} onDone={() => history.refresh()} />
        </section>
    );
}

function PullForm({ api, onDone }: { api: Api; onDone: () => void }) {
    const [source, setSource] = useState("");
    const [id, setId] = useState("");
    const [pull, setPull] = useState<Pull | null>(null);
    const [error, setError] = useState<ApiError | null>(null);
    const [running, setRunning] = useState<AbortController | null>(null);

    async function start(): Promise<void> {
        const controller = new AbortController();
        setRunning(controller);
        setError(null);
        setPull(null);
        try {
            for await (const { data } of api.stream("/v1/models/pull", { source: source.trim(), stream: true, ...(id.trim() !== "" && { id: id.trim() }) }, controller.signal)) {
                if (typeof data === "object" && data !== null) setPull(data as Pull);
            }
        } catch (caught) {
            const failure = ApiError.from(caught);
            if (failure.code !== "aborted") setError(failure);
        } finally {
            setRunning(null);
            onDone();
        }
    }

    const fraction = pull && pull.total_bytes ? pull.downloaded_bytes / pull.total_bytes : null;
    return (
        <form
            class="card pull"
            onSubmit={(event) => {
                event.preventDefault();
                void start();
            }}
        >
            <h3>Pull a model</h3>
            <label>
                Source
                <input
                    name="source"
                    value={source}
                    onInput={(e) => setSource(e.currentTarget.value)}
                    placeholder="hf:owner/repo:Q4_K_M, hf:owner/repo/file.gguf or https://…"
                    required
                />
            </label>
            <label>
                Id (optional)
                <input name="pull-id" value={id} onInput={(e) => setId(e.currentTarget.value)} placeholder="defaults to the file name" />
            </label>
            <div class="row">
                <button type="submit" disabled={running !== null || source.trim() === ""}>
                    Pull
                </button>
                {running && (
                    <button type="button" onClick={() => running.abort()}>
                        Stop watching
                    </button>
                )}
            </div>
            {pull && (
                <div class="progress" data-testid="pull-progress">
                    <progress max={1} value={fraction ?? undefined} />
                    <span>
                        {pull.status} · {bytes(pull.downloaded_bytes)}
                        {pull.total_bytes !== null && ` of ${bytes(pull.total_bytes)}`}
                        {pull.bytes_per_second !== null && ` · ${bytes(pull.bytes_per_second)}/s`}
                        {pull.already_present && " · already present"}
                    </span>
                </div>
            )}
            <p class="muted small">Stopping the watch leaves the pull running on the server.</p>
            <ErrorBanner error={error} />
        </form>
    );
}
