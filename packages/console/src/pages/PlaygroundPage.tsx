import { useEffect, useMemo, useState } from "preact/hooks";
import type { Api } from "../api/Api.js";
import { ApiError } from "../api/ApiError.js";
import type { StatsHistory } from "../api/StatsHistory.js";
import { ErrorBanner } from "../components/ErrorBanner.js";
import { ms, num } from "../format.js";
import { useHistory } from "./OverviewPage.js";
import { requestBody, snippets, type PlaygroundSettings } from "./snippets.js";

interface Turn {
    role: "user" | "assistant";
    content: string;
}

/** What one answer measured: TTFT and tok/s by the browser's clock, usage and metal_stats as the server sent them. */
interface AnswerStats {
    ttftMs: number | null;
    tokensPerSecond: number | null;
    completionTokens: number | null;
    finishReason: string | null;
    metalStats: Record<string, unknown> | null;
}

export function PlaygroundPage({ api, history }: { api: Api; history: StatsHistory }) {
    useHistory(history);
    const models = history.models?.models ?? [];
    const [settings, setSettings] = useState<PlaygroundSettings>({ mode: "chat", model: "", system: "", prompt: "", temperature: 0.8, maxTokens: 256, schema: "" });
    const [turns, setTurns] = useState<Turn[]>([]);
    const [answer, setAnswer] = useState("");
    const [stats, setStats] = useState<AnswerStats | null>(null);
    const [error, setError] = useState<ApiError | null>(null);
    const [controller, setController] = useState<AbortController | null>(null);
    const [snippetTab, setSnippetTab] = useState(0);
    const set = <K extends keyof PlaygroundSettings>(key: K, value: PlaygroundSettings[K]) => setSettings((s) => ({ ...s, [key]: value }));

    useEffect(() => {
        if (settings.model === "" && models[0]) set("model", models[0].id);
    }, [models.length]);

    const schemaError = useMemo(() => {
        if (settings.mode !== "chat" || settings.schema.trim() === "") return null;
        try {
            JSON.parse(settings.schema);
            return null;
        } catch (caught) {
            return `The JSON schema does not parse: ${(caught as Error).message}`;
        }
    }, [settings.schema, settings.mode]);

    async function send(): Promise<void> {
        const abort = new AbortController();
        const conversation = settings.mode === "chat" ? turns : [];
        const body = requestBody(settings, conversation);
        const path = settings.mode === "chat" ? "/v1/chat/completions" : "/v1/generate";
        setController(abort);
        setError(null);
        setAnswer("");
        setStats(null);
        const started = performance.now();
        let firstAt: number | null = null;
        let lastAt: number | null = null;
        let pieces = 0;
        let text = "";
        const measured: AnswerStats = { ttftMs: null, tokensPerSecond: null, completionTokens: null, finishReason: null, metalStats: null };
        try {
            for await (const { data } of api.stream(path, body, abort.signal)) {
                if (typeof data !== "object" || data === null) continue;
                const chunk = data as {
                    choices?: Array<{ text?: string; delta?: { content?: string | null }; finish_reason?: string | null }>;
                    usage?: { completion_tokens?: number } | null;
                    metal_stats?: Record<string, unknown>;
                };
                const choice = chunk.choices?.[0];
                const piece = choice?.text ?? choice?.delta?.content ?? "";
                if (piece !== "") {
                    const now = performance.now();
                    firstAt ??= now;
                    lastAt = now;
                    pieces++;
                    text += piece;
                    setAnswer(text);
                    measured.ttftMs = firstAt - started;
                }
                if (choice?.finish_reason) measured.finishReason = choice.finish_reason;
                if (chunk.usage?.completion_tokens !== undefined) measured.completionTokens = chunk.usage.completion_tokens;
                if (chunk.metal_stats) measured.metalStats = chunk.metal_stats;
            }
        } catch (caught) {
            const failure = ApiError.from(caught);
            if (failure.code === "aborted") measured.finishReason = "stopped";
            else setError(failure);
        } finally {
            const tokens = measured.completionTokens ?? pieces;
            if (firstAt !== null && lastAt !== null && lastAt > firstAt && tokens > 1) measured.tokensPerSecond = ((tokens - 1) * 1000) / (lastAt - firstAt);
            setStats(measured);
            setController(null);
            if (settings.mode === "chat" && text !== "") setTurns([...conversation, { role: "user", content: settings.prompt }, { role: "assistant", content: text }]);
        }
    }

    const shown = schemaError ? [{ label: "curl", code: schemaError }] : snippets(settings, location.origin);
    const tab = shown[Math.min(snippetTab, shown.length - 1)]!;
    // The finished exchange is in `turns` (it is the next request's context) and in the answer box: show it once.
    const shownTurns = answer !== "" && controller === null && settings.mode === "chat" ? turns.slice(0, -2) : turns;
    return (
        <section>
            <h2>Playground</h2>
            <div class="playground">
                <form
                    class="card settings"
                    onSubmit={(event) => {
                        event.preventDefault();
                        void send();
                    }}
                >
                    <label>
                        Model
                        <select name="model" value={settings.model} onChange={(e) => set("model", e.currentTarget.value)}>
                            {models.map((m) => (
                                <option key={m.id} value={m.id}>
                                    {m.id} ({m.status})
                                </option>
                            ))}
                        </select>
                    </label>
                    <label>
                        API
                        <select name="mode" value={settings.mode} onChange={(e) => set("mode", e.currentTarget.value as PlaygroundSettings["mode"])}>
                            <option value="chat">Chat (OpenAI /v1/chat/completions)</option>
                            <option value="generate">Generate (JAN /v1/generate, with metal_stats)</option>
                        </select>
                    </label>
                    {settings.mode === "chat" && (
                        <label>
                            System prompt
                            <textarea name="system" rows={2} value={settings.system} onInput={(e) => set("system", e.currentTarget.value)} />
                        </label>
                    )}
                    <div class="row">
                        <label>
                            Temperature
                            <input
                                name="temperature"
                                type="number"
                                min={0}
                                max={2}
                                step={0.1}
                                value={settings.temperature}
                                onInput={(e) => set("temperature", Number(e.currentTarget.value))}
                            />
                        </label>
                        <label>
                            Max tokens
                            <input
                                name="max-tokens"
                                type="number"
                                min={1}
                                step={1}
                                value={settings.maxTokens}
                                onInput={(e) => set("maxTokens", Math.max(1, Math.floor(Number(e.currentTarget.value))))}
                            />
                        </label>
                    </div>
                    {settings.mode === "chat" && (
                        <label>
                            JSON schema for the output (optional)
                            <textarea
                                name="schema"
                                rows={3}
                                value={settings.schema}
                                onInput={(e) => set("schema", e.currentTarget.value)}
                                placeholder='{"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}'
                            />
                        </label>
                    )}
                    {schemaError && <div class="error small">{schemaError}</div>}
                    <label>
                        {settings.mode === "chat" ? "Message" : "Prompt"}
                        <textarea name="prompt" rows={3} value={settings.prompt} onInput={(e) => set("prompt", e.currentTarget.value)} required />
                    </label>
                    <div class="row">
                        <button type="submit" disabled={controller !== null || settings.model === "" || schemaError !== null}>
                            Send
                        </button>
                        <button type="button" class="danger" data-testid="stop" disabled={controller === null} onClick={() => controller?.abort()}>
                            Stop
                        </button>
                        <button type="button" disabled={controller !== null} onClick={() => (setTurns([]), setAnswer(""), setStats(null))}>
                            Clear
                        </button>
                    </div>
                </form>
                <div class="card output">
                    {shownTurns.length > 0 && (
                        <ol class="turns">
                            {shownTurns.map((t, i) => (
                                <li key={i} class={t.role}>
                                    <b>{t.role}</b> {t.content}
                                </li>
                            ))}
                        </ol>
                    )}
                    <div class="answer" data-testid="answer" aria-live="polite">
                        {answer}
                        {controller && <span class="cursor">▍</span>}
                    </div>
                    <ErrorBanner error={error} />
                    {stats && (
                        <dl class="answer-stats" data-testid="answer-stats">
                            <dt>TTFT</dt>
                            <dd>{ms(stats.ttftMs)}</dd>
                            <dt>tok/s</dt>
                            <dd>{num(stats.tokensPerSecond)}</dd>
                            <dt>Tokens</dt>
                            <dd>{stats.completionTokens ?? "—"}</dd>
                            <dt>Finish</dt>
                            <dd data-testid="finish">{stats.finishReason ?? "—"}</dd>
                            <dt>metal_stats</dt>
                            <dd>
                                {stats.metalStats ? (
                                    <code class="small">{JSON.stringify(stats.metalStats)}</code>
                                ) : (
                                    <span class="muted">{settings.mode === "chat" ? "only /v1/generate reports it" : "not sent (stopped early)"}</span>
                                )}
                            </dd>
                        </dl>
                    )}
                    <p class="muted small">TTFT and tok/s are measured in this browser, from sending the request to the first and last token.</p>
                </div>
            </div>
            <div class="card snippets">
                <div class="tabs" role="tablist">
                    {shown.map((s, i) => (
                        <button type="button" role="tab" key={s.label} class={s === tab ? "active" : ""} onClick={() => setSnippetTab(i)}>
                            {s.label}
                        </button>
                    ))}
                    <button type="button" class="link" onClick={() => void navigator.clipboard?.writeText(tab.code)}>
                        Copy
                    </button>
                </div>
                <pre data-testid="snippet">
                    <code>{tab.code}</code>
                </pre>
            </div>
        </section>
    );
}
