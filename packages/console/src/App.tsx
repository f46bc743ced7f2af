import { useEffect, useMemo, useState } from "preact/hooks";
import { Api } from "./api/Api.js";
import { ApiError } from "./api/ApiError.js";
import { forgetKey, storedKey, storeKey } from "./api/session.js";
import { StatsHistory } from "./api/StatsHistory.js";
import type { ModelList } from "./api/wire.js";
import { KeysPage } from "./pages/KeysPage.js";
import { ModelsPage } from "./pages/ModelsPage.js";
import { OverviewPage } from "./pages/OverviewPage.js";
import { PlaygroundPage } from "./pages/PlaygroundPage.js";
import { SignInPage } from "./pages/SignInPage.js";

/** A signed-in session: the key's API door, whether it holds `admin`, and the stats being polled. */
interface Session {
    api: Api;
    admin: boolean;
    history: StatsHistory;
}

type Page = "overview" | "models" | "playground" | "keys";
const pages: Array<{ id: Page; label: string; admin: boolean }> = [
    { id: "overview", label: "Overview", admin: false },
    { id: "models", label: "Models", admin: true },
    { id: "playground", label: "Playground", admin: false },
    { id: "keys", label: "Keys & usage", admin: true }
];

function currentPage(): Page {
    const id = location.hash.replace(/^#\/?/, "");
    return pages.some((p) => p.id === id) ? (id as Page) : "overview";
}

/**
 * Checks a key against the API: `/v1/models` (scope `read`) proves it works; `/v1/admin/keys`
 * answering 403 tells a key without `admin`, whose console then shows no admin pages.
 */
async function signIn(key: string): Promise<Session> {
    const api = new Api(key);
    await api.json<ModelList>("GET", "/v1/models");
    let admin = true;
    try {
        await api.json("GET", "/v1/admin/keys");
    } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 403) throw error;
        admin = false;
    }
    const history = new StatsHistory(api);
    history.start();
    return { api, admin, history };
}

export function App() {
    const [session, setSession] = useState<Session | null>(null);
    const [restoring, setRestoring] = useState(storedKey() !== null);
    const [restoreError, setRestoreError] = useState<ApiError | null>(null);
    const [page, setPage] = useState<Page>(currentPage());

    useEffect(() => {
        const onHash = () => setPage(currentPage());
        addEventListener("hashchange", onHash);
        return () => removeEventListener("hashchange", onHash);
    }, []);

    useEffect(() => {
        const key = storedKey();
        if (key === null) return;
        signIn(key)
            .then(setSession)
            .catch((error: unknown) => {
                forgetKey();
                setRestoreError(ApiError.from(error));
            })
            .finally(() => setRestoring(false));
    }, []);

    useEffect(() => () => session?.history.stop(), [session]);

    const visible = useMemo(() => pages.filter((p) => !p.admin || session?.admin === true), [session]);

    if (restoring) return <p class="muted centered">Signing in…</p>;
    if (!session) {
        return (
            <SignInPage
                initialError={restoreError}
                onSignIn={async (key) => {
                    const next = await signIn(key);
                    storeKey(key);
                    setSession(next);
                }}
            />
        );
    }
    const shown = visible.some((p) => p.id === page) ? page : "overview";
    return (
        <div class="shell">
            <header class="top">
                <span class="brand">Quandex</span>
                <nav aria-label="Pages">
                    {visible.map((p) => (
                        <a key={p.id} href={`#/${p.id}`} class={p.id === shown ? "active" : ""} data-page={p.id}>
                            {p.label}
                        </a>
                    ))}
                </nav>
                <span class="who">{session.admin ? "admin key" : "key without admin"}</span>
                <button
                    type="button"
                    class="link"
                    onClick={() => {
                        session.history.stop();
                        forgetKey();
                        setSession(null);
                    }}
                >
                    Sign out
                </button>
            </header>
            <main>
                {shown === "overview" && <OverviewPage history={session.history} />}
                {shown === "models" && <ModelsPage api={session.api} history={session.history} />}
                {shown === "playground" && <PlaygroundPage api={session.api} history={session.history} />}
                {shown === "keys" && <KeysPage api={session.api} />}
            </main>
        </div>
    );
}
