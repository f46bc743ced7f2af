/** One admin action, as recorded. `detail` holds what was asked (never a secret). */
export interface AuditEntry {
    id: number;
    /** ISO 8601, UTC. */
    at: string;
    action: string;
    /** `key:<id>`, `cli`, or `config`. */
    actor: string;
    actorName: string | null;
    target: string | null;
    requestId: string | null;
    ip: string | null;
    detail: Record<string, unknown>;
}

export type NewAuditEntry = Omit<AuditEntry, "id" | "at"> & { at?: string };

/** A page of entries, newest first; `nextBefore` is the `before` of the next page, `null` at the end. */
export interface AuditPage {
    entries: AuditEntry[];
    nextBefore: number | null;
}

/**
 * The audit log of admin actions, kept where the keys are (SQLite in the data dir, or Redis), so it
 * survives restarts and every replica writes to the same one. Append-only: nothing edits or drops
 * an entry.
 */
export interface AuditLog {
    record(entry: NewAuditEntry): Promise<AuditEntry>;
    /** Newest first, at most `limit`, only ids below `before` when given. */
    list(options: { limit: number; before?: number }): Promise<AuditPage>;
    /** The newest entry with this action, for "did the config change since the last boot?". */
    latest(action: string): Promise<AuditEntry | undefined>;
}
