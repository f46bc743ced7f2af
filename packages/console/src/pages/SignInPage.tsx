import { useState } from "preact/hooks";
import { ApiError } from "../api/ApiError.js";
import { ErrorBanner } from "../components/ErrorBanner.js";

export function SignInPage({ onSignIn, initialError }: { onSignIn: (key: string) => Promise<void>; initialError: ApiError | null }) {
    const [key, setKey] = useState("");
    const [error, setError] = useState<ApiError | null>(initialError);
    const [busy, setBusy] = useState(false);
    return (
        <div class="signin">
            <form
                class="card"
                onSubmit={async (event) => {
                    event.preventDefault();
                    setBusy(true);
                    setError(null);
                    try {
                        await onSignIn(key.trim());
                    } catch (caught) {
                        setError(ApiError.from(caught));
                    } finally {
                        setBusy(false);
                    }
                }}
            >
                <h1>Quandex console</h1>
                <p class="muted">Sign in with an API key. It is kept in this tab's session storage and sent only as a Bearer header.</p>
                <label>
                    API key
                    <input
                        name="api-key"
                        type="password"
                        autocomplete="off"
                        spellcheck={false}
                        value={key}
                        onInput={(e) => setKey(e.currentTarget.value)}
                        placeholder="qdx_…"
                        required
                    />
                </label>
                <button type="submit" disabled={busy || key.trim() === ""}>
                    {busy ? "Checking…" : "Sign in"}
                </button>
                <ErrorBanner error={error} />
            </form>
        </div>
    );
}
