import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Api } from "../api/Api.js";
import { ApiError } from "../api/ApiError.js";
import { allScopes, type ApiKey, type Scope, type UsageResponse } from "../api/wire.js";
import { ErrorBanner } from "../components/ErrorBanner.js";
import { TimeChart } from "../components/TimeChart.js";

const usageDays = 7;
const rotatePath = "/v1/admin/keys/{id}/rotate";

interface Limits {
    scopes: Scope[];
    rps: string;
    burst: string;
    daily: string;
    unlimited: boolean;
}

/** The last `count` UTC days, oldest first, as the API names them (YYYY-MM-DD). */
function lastDays(count: number): string[] {
    const today = Date.now();
    return Array.from({ length: count }, (_v, i) => new Date(today - (count - 1 - i) * 86_400_000).toISOString().slice(0, 10));
}

/** Blank means "the server's default" (the API's null); otherwise the number typed. */
function limitValue(text: string): number | null {
    return text.trim() === "" ? null : Number(text);
}

export function KeysPage({ api }: { api: Api }) {
    const [keys, setKeys] = useState<ApiKey[]>([]);
    const [error, setError] = useState<ApiError | null>(null);
    const [secret, setSecret] = useState<{ name: string; key: string } | null>(null);
    const [canRotate, setCanRotate] = useState(false);
    const [editing, setEditing] = useState<string | null>(null);
    const [usage, setUsage] = useState<UsageResponse[]>([]);
    const [usageKey, setUsageKey] = useState<string>("");

    async function reload(): Promise<void> {
        try {
            const list = await api.json<{ data: ApiKey[] }>("GET", "/v1/admin/keys");
            setKeys(list.data);
            setUsageKey((current) => current || list.data[0]?.id || "");
        } catch (caught) {
            setError(ApiError.from(caught));
        }
    }

    useEffect(() => {
        void reload();
        // Rotation is offered only when this server's API document lists it.
        api.json<{ paths: Record<string, unknown> }>("GET", "/v1/openapi.json")
            .then((doc) => setCanRotate(rotatePath in doc.paths))
            .catch(() => setCanRotate(false));
        Promise.all(lastDays(usageDays).map((day) => api.json<UsageResponse>("GET", `/v1/usage?key_id=all&day=${day}`)))
            .then(setUsage)
            .catch((caught: unknown) => setError(ApiError.from(caught)));
    }, [api]);

    async function act(call: () => Promise<unknown>): Promise<void> {
        setError(null);
        try {
            await call();
        } catch (caught) {
            setError(ApiError.from(caught));
        }
        await reload();
    }

    const days = lastDays(usageDays);
    const forKey = days.map((day) => usage.find((u) => u.day === day)?.data.find((r) => r.key_id === usageKey) ?? null);
    const times = days.map((day) => Date.parse(`${day}T00:00:00Z`) / 1000);
    const loaded = usage.length === days.length;

    return (
        <section>
            <h2>Keys & usage</h2>
            <ErrorBanner error={error} />
            {secret && (
                <div class="card secret" data-testid="new-secret">
                    <p>
                        The secret of <b>{secret.name}</b>, shown this once:
                    </p>
                    <div class="row">
                        <code data-testid="secret-value">{secret.key}</code>
                        <button type="button" onClick={() => void navigator.clipboard?.writeText(secret.key)}>
                            Copy
                        </button>
                        <button type="button" class="link" onClick={() => setSecret(null)}>
                            Done
                        </button>
                    </div>
                </div>
            )}
            <CreateKeyForm
                onCreate={(name, limits) =>
                    act(async () => {
                        const created = await api.json<ApiKey & { key: string }>("POST", "/v1/admin/keys", { name, ...limitsBody(limits, false) });
                        setSecret({ name: created.name, key: created.key });
                    })
                }
            />
            <div class="table-wrap">
                <table data-testid="keys-table">
                    <thead>
                        <tr>
                            <th>Name</th>
                            <th>Id</th>
                            <th>Prefix</th>
                            <th>Scopes</th>
                            <th>rps</th>
                            <th>Burst</th>
                            <th>Daily</th>
                            <th>Created</th>
                            <th>Actions</th>
                        </tr>
                    </thead>
                    <tbody>
                        {keys.map((k) => (
                            <Fragment key={k.id}>
                                <tr data-key={k.name} class={k.revoked_at ? "revoked" : ""}>
                                    <td>{k.name}</td>
                                    <td class="small">{k.id}</td>
                                    <td>
                                        <code>{k.prefix}…</code>
                                    </td>
                                    <td>{k.scopes.join(", ")}</td>
                                    <td>{k.unlimited ? "unlimited" : (k.rps ?? "default")}</td>
                                    <td>{k.unlimited ? "—" : (k.burst ?? "default")}</td>
                                    <td>{k.unlimited ? "—" : (k.daily ?? "default")}</td>
                                    <td class="small">{k.revoked_at ? `revoked ${k.revoked_at.slice(0, 10)}` : k.created_at.slice(0, 10)}</td>
                                    <td class="actions">
                                        {!k.revoked_at && (
                                            <>
                                                <button type="button" onClick={() => setEditing(editing === k.id ? null : k.id)}>
                                                    Edit
                                                </button>
                                                {canRotate && (
                                                    <button
                                                        type="button"
                                                        onClick={() =>
                                                            act(async () => {
                                                                const rotated = await api.json<{ name?: string; key: string }>(
                                                                    "POST",
                                                                    `/v1/admin/keys/${encodeURIComponent(k.id)}/rotate`,
                                                                    {}
                                                                );
                                                                setSecret({ name: k.name, key: rotated.key });
                                                            })
                                                        }
                                                    >
                                                        Rotate
                                                    </button>
                                                )}
                                                <button
                                                    type="button"
                                                    class="danger"
                                                    onClick={() => {
                                                        if (confirm(`Revoke ${k.name}? It stops working at once.`))
                                                            void act(() => api.json("DELETE", `/v1/admin/keys/${encodeURIComponent(k.id)}`));
                                                    }}
                                                >
                                                    Revoke
                                                </button>
                                            </>
                                        )}
                                    </td>
                                </tr>
                                {editing === k.id && (
                                    <tr>
                                        <td colSpan={9}>
                                            <LimitsForm
                                                initial={{
                                                    scopes: [...k.scopes],
                                                    rps: k.rps?.toString() ?? "",
                                                    burst: k.burst?.toString() ?? "",
                                                    daily: k.daily?.toString() ?? "",
                                                    unlimited: k.unlimited
                                                }}
                                                submitLabel="Save"
                                                onSubmit={(limits) =>
                                                    act(async () => {
                                                        await api.json("PATCH", `/v1/admin/keys/${encodeURIComponent(k.id)}`, limitsBody(limits, true));
                                                        setEditing(null);
                                                    })
                                                }
                                            />
                                        </td>
                                    </tr>
                                )}
                            </Fragment>
                        ))}
                    </tbody>
                </table>
            </div>
            <div class="card">
                <label class="inline">
                    Usage of
                    <select name="usage-key" value={usageKey} onChange={(e) => setUsageKey(e.currentTarget.value)}>
                        {keys.map((k) => (
                            <option key={k.id} value={k.id}>
                                {k.name}
                            </option>
                        ))}
                    </select>
                    per UTC day, last {usageDays} days
                </label>
                {loaded ? (
                    <>
                        <TimeChart title="Requests" unit="requests" times={times} series={[{ label: "requests", values: forKey.map((r) => r?.requests ?? 0) }]} height={160} />
                        <TimeChart
                            title="Tokens"
                            unit="tokens"
                            times={times}
                            series={[
                                { label: "prompt", values: forKey.map((r) => r?.prompt_tokens ?? 0) },
                                { label: "completion", values: forKey.map((r) => r?.completion_tokens ?? 0) }
                            ]}
                            height={160}
                        />
                    </>
                ) : (
                    <p class="muted">Loading usage…</p>
                )}
                <p class="muted small">/v1/usage counts admitted requests and tokens; it does not record 429 answers per key.</p>
            </div>
        </section>
    );
}

/** The create and update bodies: `null` restores a limit's default on update, and is left out on create. */
function limitsBody(limits: Limits, update: boolean): Record<string, unknown> {
    const body: Record<string, unknown> = { scopes: limits.scopes, unlimited: limits.unlimited };
    for (const name of ["rps", "burst", "daily"] as const) {
        const value = limitValue(limits[name]);
        if (value !== null || update) body[name] = value;
    }
    return body;
}

function CreateKeyForm({ onCreate }: { onCreate: (name: string, limits: Limits) => Promise<void> }) {
    const [name, setName] = useState("");
    return (
        <div class="card">
            <h3>Create a key</h3>
            <label>
                Name
                <input name="key-name" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="e.g. team-notebook" />
            </label>
            <LimitsForm
                initial={{ scopes: ["generate", "read"], rps: "", burst: "", daily: "", unlimited: false }}
                submitLabel="Create key"
                onSubmit={(limits) => onCreate(name.trim(), limits)}
            />
        </div>
    );
}

function LimitsForm({ initial, submitLabel, onSubmit }: { initial: Limits; submitLabel: string; onSubmit: (limits: Limits) => Promise<void> }) {
    const [limits, setLimits] = useState<Limits>(initial);
    const toggle = (scope: Scope) => setLimits((l) => ({ ...l, scopes: l.scopes.includes(scope) ? l.scopes.filter((s) => s !== scope) : [...l.scopes, scope] }));
    return (
        <form
            class="limits"
            onSubmit={(event) => {
                event.preventDefault();
                void onSubmit(limits);
            }}
        >
            <fieldset>
                <legend>Scopes</legend>
                {allScopes.map((scope) => (
                    <label key={scope} class="check">
                        <input type="checkbox" name={`scope-${scope}`} checked={limits.scopes.includes(scope)} onChange={() => toggle(scope)} /> {scope}
                    </label>
                ))}
            </fieldset>
            <div class="row">
                <label>
                    rps
                    <input
                        name="rps"
                        type="number"
                        min={0}
                        step="any"
                        value={limits.rps}
                        placeholder="default"
                        onInput={(e) => setLimits({ ...limits, rps: e.currentTarget.value })}
                    />
                </label>
                <label>
                    Burst
                    <input
                        name="burst"
                        type="number"
                        min={1}
                        step={1}
                        value={limits.burst}
                        placeholder="default"
                        onInput={(e) => setLimits({ ...limits, burst: e.currentTarget.value })}
                    />
                </label>
                <label>
                    Daily quota
                    <input
                        name="daily"
                        type="number"
                        min={0}
                        step={1}
                        value={limits.daily}
                        placeholder="default"
                        onInput={(e) => setLimits({ ...limits, daily: e.currentTarget.value })}
                    />
                </label>
                <label class="check">
                    <input type="checkbox" name="unlimited" checked={limits.unlimited} onChange={() => setLimits({ ...limits, unlimited: !limits.unlimited })} /> unlimited
                </label>
            </div>
            <button type="submit">{submitLabel}</button>
        </form>
    );
}
