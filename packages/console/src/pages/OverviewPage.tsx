import { useEffect, useState } from "preact/hooks";
import type { StatsHistory } from "../api/StatsHistory.js";
import { ErrorBanner } from "../components/ErrorBanner.js";
import { TimeChart, type TimeSeries } from "../components/TimeChart.js";
import { bytes, duration, ms, num, optionalFigure } from "../format.js";

/** Re-renders whenever the poller has a new sample. */
export function useHistory(history: StatsHistory): number {
    const [tick, setTick] = useState(0);
    useEffect(() => history.subscribe(() => setTick((t) => t + 1)), [history]);
    return tick;
}

// TTFT quantiles are not in /v1/stats at the time of writing; when the server adds them under these
// names the table and chart show them, and until then they say "not reported" rather than guess.
const ttftP50 = "ttft_p50_ms";
const ttftP95 = "ttft_p95_ms";

export function OverviewPage({ history }: { history: StatsHistory }) {
    useHistory(history);
    const latest = history.samples.at(-1)?.stats;
    const entries = history.models?.models ?? [];
    const times = history.samples.map((s) => s.at);
    const ids = latest ? Object.keys(latest.models) : [];
    const seriesOf = (label: (id: string) => string, pick: (id: string, i: number) => number | null): TimeSeries[] =>
        ids.map((id) => ({ label: label(id), values: history.samples.map((_s, i) => pick(id, i)) }));
    const fig = (id: string, i: number) => history.samples[i]!.stats.models[id];
    const ttftReported = ids.some((id) => latest && optionalFigure(latest.models[id]!, ttftP95) !== null);

    return (
        <section>
            <h2>Overview</h2>
            <ErrorBanner error={history.error} />
            {!latest ? (
                <p class="muted">Waiting for the first /v1/stats answer…</p>
            ) : (
                <>
                    <div class="tiles">
                        <div class="tile">
                            <h3>Device</h3>
                            <p data-testid="device">{latest.metal_device.name}</p>
                            <p class="muted">
                                backend {latest.metal_device.backend} · {latest.metal_device.memory_allocated} used · {latest.metal_device.memory_available} free
                                {latest.metal_device.temperature !== null && ` · ${latest.metal_device.temperature}`}
                            </p>
                        </div>
                        <div class="tile">
                            <h3>Engine</h3>
                            <p data-testid="engine">
                                {latest.engine.name} {latest.engine.version}
                            </p>
                            <p class="muted">
                                {latest.engine.build} · llama.cpp {latest.engine.llama_cpp_release} · {latest.engine.threads} threads
                            </p>
                        </div>
                        <div class="tile">
                            <h3>Server</h3>
                            <p data-testid="uptime">up {duration(latest.server.uptime_seconds)}</p>
                            <p class="muted">
                                {latest.server.active_sequences} running · {latest.server.queue_depth}/{latest.server.max_queue} queued · RSS {bytes(latest.server.rss_bytes)}
                            </p>
                        </div>
                        <div class="tile">
                            <h3>Model memory</h3>
                            <p>{latest.memory.committed} committed</p>
                            <p class="muted">
                                budget {latest.memory.budget ?? "none"} · {latest.memory.evictions_total} evictions
                            </p>
                        </div>
                    </div>
                    <div class="table-wrap">
                        <table data-testid="models-table">
                            <thead>
                                <tr>
                                    <th>Model</th>
                                    <th>State</th>
                                    <th>Memory</th>
                                    <th>Running</th>
                                    <th>Waiting</th>
                                    <th>tok/s</th>
                                    <th>TTFT p50 / p95</th>
                                    <th>Latency p50 / p95</th>
                                    <th>Error rate</th>
                                    <th>Requests</th>
                                </tr>
                            </thead>
                            <tbody>
                                {entries.map((entry) => {
                                    const m = latest.models[entry.id];
                                    return (
                                        <tr key={entry.id} data-model={entry.id}>
                                            <td>{entry.id}</td>
                                            <td>
                                                <span class={`state state-${entry.status}`}>{entry.status}</span>
                                            </td>
                                            <td>{entry.memory_usage}</td>
                                            <td>{m?.active_sequences ?? "—"}</td>
                                            <td>{m?.queue_depth ?? "—"}</td>
                                            <td>{num(m?.output_tokens_per_second)}</td>
                                            <td>
                                                {m && optionalFigure(m, ttftP95) !== null ? (
                                                    `${ms(optionalFigure(m, ttftP50))} / ${ms(optionalFigure(m, ttftP95))}`
                                                ) : (
                                                    <span class="muted">not reported</span>
                                                )}
                                            </td>
                                            <td>{m ? `${ms(m.p50_latency_ms)} / ${ms(m.p95_latency_ms)}` : "—"}</td>
                                            <td>{m?.error_rate ?? "—"}</td>
                                            <td>{m?.requests_total ?? "—"}</td>
                                        </tr>
                                    );
                                })}
                            </tbody>
                        </table>
                    </div>
                    <p class="muted small">Charts: the last 15 minutes of /v1/stats, polled every 2 s while the console is open. Latency is end-to-end per request.</p>
                    <div class="charts">
                        <TimeChart
                            title="Requests running and waiting"
                            unit="requests"
                            times={times}
                            series={[
                                ...seriesOf(
                                    (id) => `${id} running`,
                                    (id, i) => fig(id, i)?.active_sequences ?? null
                                ),
                                ...seriesOf(
                                    (id) => `${id} waiting`,
                                    (id, i) => fig(id, i)?.queue_depth ?? null
                                )
                            ]}
                        />
                        <TimeChart
                            title="Output tokens per second"
                            unit="tok/s"
                            times={times}
                            series={seriesOf(
                                (id) => id,
                                (id, i) => fig(id, i)?.output_tokens_per_second ?? null
                            )}
                        />
                        {ttftReported ? (
                            <TimeChart
                                title="TTFT p95"
                                unit="ms"
                                times={times}
                                series={seriesOf(
                                    (id) => id,
                                    (id, i) => (fig(id, i) ? optionalFigure(fig(id, i)!, ttftP95) : null)
                                )}
                            />
                        ) : (
                            <TimeChart
                                title="Latency p95 (TTFT not reported by /v1/stats)"
                                unit="ms"
                                times={times}
                                series={seriesOf(
                                    (id) => id,
                                    (id, i) => fig(id, i)?.p95_latency_ms ?? null
                                )}
                            />
                        )}
                        <TimeChart
                            title="Error rate"
                            unit="%"
                            times={times}
                            series={seriesOf(
                                (id) => id,
                                (id, i) => (fig(id, i) ? fig(id, i)!.error_rate_ratio * 100 : null)
                            )}
                        />
                    </div>
                </>
            )}
        </section>
    );
}
