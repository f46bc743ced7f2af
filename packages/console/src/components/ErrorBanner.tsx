import type { ApiError } from "../api/ApiError.js";

/** An API error as the user reads it: the server's message and its catalogue code. */
export function ErrorBanner({ error }: { error: ApiError | null }) {
    if (!error) return null;
    return (
        <div class="error" role="alert">
            <strong>{error.message}</strong> <code class="error-code">{error.code}</code>
            {error.status > 0 && <span class="error-status"> HTTP {error.status}</span>}
        </div>
    );
}
