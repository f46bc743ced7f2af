import type { Clock } from "../scheduler/Clock.js";

/** A clock that moves only when told, so timeout tests take microseconds. */
export class ManualClock implements Clock {
    private time = 0;
    private timers: Array<{ at: number; callback: () => void; id: number }> = [];
    private nextId = 1;

    now(): number {
        return this.time;
    }

    setTimeout(callback: () => void, ms: number): unknown {
        const id = this.nextId++;
        this.timers.push({ at: this.time + ms, callback, id });
        return id;
    }

    clearTimeout(handle: unknown): void {
        this.timers = this.timers.filter((t) => t.id !== handle);
    }

    /** Moves time forward, firing due timers in order. */
    advance(ms: number): void {
        const target = this.time + ms;
        for (;;) {
            const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at)[0];
            if (!due) break;
            this.timers = this.timers.filter((t) => t !== due);
            this.time = due.at;
            due.callback();
        }
        this.time = target;
    }
}
