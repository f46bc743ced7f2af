import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface TimeSeries {
    label: string;
    /** One value per timestamp; null where the figure was not reported. */
    values: Array<number | null>;
}

const palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

/**
 * A live line chart on uPlot. It is rebuilt only when the set of series changes; new points go
 * through `setData`, which is what uPlot is fast at. Its width follows its container.
 */
export function TimeChart({ title, unit, times, series, height = 180 }: { title: string; unit: string; times: number[]; series: TimeSeries[]; height?: number }) {
    const holder = useRef<HTMLDivElement>(null);
    const plot = useRef<uPlot | null>(null);
    const labels = series.map((s) => s.label).join("\u0000");

    useEffect(() => {
        const element = holder.current;
        if (!element) return undefined;
        const options: uPlot.Options = {
            width: Math.max(200, element.clientWidth),
            height,
            series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: palette[i % palette.length]!, width: 2, spanGaps: false }))],
            axes: [{}, { label: unit, size: 60 }],
            scales: { x: { time: true }, y: { range: (_u, min, max) => [0, Math.max(max, min + 1)] } },
            legend: { show: true }
        };
        const chart = new uPlot(options, [times, ...series.map((s) => s.values)] as uPlot.AlignedData, element);
        plot.current = chart;
        const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(200, element.clientWidth), height }));
        resize.observe(element);
        return () => {
            resize.disconnect();
            chart.destroy();
            plot.current = null;
        };
        // Rebuilt only when the series' names change; new data goes through setData below.
    }, [labels, unit, height]);

    useEffect(() => {
        plot.current?.setData([times, ...series.map((s) => s.values)] as uPlot.AlignedData);
    });

    return (
        <figure class="chart">
            <figcaption>{title}</figcaption>
            {series.length === 0 ? <p class="muted">No data yet.</p> : <div ref={holder} />}
        </figure>
    );
}
