import type Database from "better-sqlite3";
import type { AuditEntry, AuditLog, AuditPage, NewAuditEntry } from "./AuditLog.js";
import { migrateSchema } from "./migrateSchema.js";

/** The `audit` component's migrations (see `migrateSchema.ts`); append, never edit. */
const auditSchema = [
    `CREATE TABLE IF NOT EXISTS audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            actor TEXT NOT NULL,
            actor_name TEXT,
            target TEXT,
            request_id TEXT,
            ip TEXT,
            detail TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS audit_log_action ON audit_log (action, id)`
];

interface Row {
    id: number;
    at: string;
    action: string;
    actor: string;
    actor_name: string | null;
    target: string | null;
    request_id: string | null;
    ip: string | null;
    detail: string;
}

/**
 * The audit log in the data dir's SQLite database, beside the keys. `AUTOINCREMENT` so an id is
 * never reused, which keeps `before` pagination stable while entries are added.
 */
export class SqliteAuditLog implements AuditLog {
    private readonly insert: Database.Statement<Omit<Row, "id">>;
    private readonly page: Database.Statement<[number, number], Row>;
    private readonly newest: Database.Statement<[string], Row>;

    constructor(db: Database.Database) {
        migrateSchema(db, "audit", auditSchema);
        this.insert = db.prepare(
            "INSERT INTO audit_log (at, action, actor, actor_name, target, request_id, ip, detail) VALUES (@at, @action, @actor, @actor_name, @target, @request_id, @ip, @detail)"
        );
        this.page = db.prepare("SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?");
        this.newest = db.prepare("SELECT * FROM audit_log WHERE action = ? ORDER BY id DESC LIMIT 1");
    }

    async record(entry: NewAuditEntry): Promise<AuditEntry> {
        const row: Omit<Row, "id"> = {
            at: entry.at ?? new Date().toISOString(),
            action: entry.action,
            actor: entry.actor,
            actor_name: entry.actorName,
            target: entry.target,
            request_id: entry.requestId,
            ip: entry.ip,
            detail: JSON.stringify(entry.detail)
        };
        const id = Number(this.insert.run(row).lastInsertRowid);
        return fromRow({ ...row, id });
    }

    async list(options: { limit: number; before?: number }): Promise<AuditPage> {
        // One more than asked tells whether another page follows.
        const rows = this.page.all(options.before ?? Number.MAX_SAFE_INTEGER, options.limit + 1);
        const entries = rows.slice(0, options.limit).map(fromRow);
        return { entries, nextBefore: rows.length > options.limit ? entries[entries.length - 1]!.id : null };
    }

    async latest(action: string): Promise<AuditEntry | undefined> {
        const row = this.newest.get(action);
        return row ? fromRow(row) : undefined;
    }
}

function fromRow(row: Row): AuditEntry {
    return {
        id: row.id,
        at: row.at,
        action: row.action,
        actor: row.actor,
        actorName: row.actor_name,
        target: row.target,
        requestId: row.request_id,
        ip: row.ip,
        detail: JSON.parse(row.detail) as Record<string, unknown>
    };
}
