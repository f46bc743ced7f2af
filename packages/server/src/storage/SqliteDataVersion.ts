import type Database from "better-sqlite3";

const perConnection = new WeakMap<Database.Database, SqliteDataVersion>();

/**
 * SQLite's `PRAGMA data_version` for one connection: it moves whenever another connection (the
 * `quandex keys` CLI, a second server on the same data dir) commits, and never for this
 * connection's own commits. Caches that check it before every use stay exact: what the CLI
 * changes takes effect on the next request.
 *
 * One read serves a whole turn of the event loop: the requests that arrived together are
 * concurrent with any commit made meanwhile, and under load a turn holds many of them, while the
 * pragma costs about as much as the rest of an authenticated `GET /v1/models`.
 */
export class SqliteDataVersion {
    private readonly statement: Database.Statement<[], number>;
    private value = 0;
    private fresh = false;
    private readonly expire = (): void => {
        this.fresh = false;
    };

    private constructor(db: Database.Database) {
        this.statement = db.prepare<[], number>("PRAGMA data_version").pluck();
    }

    /** The one instance for a connection, shared by every cache on it. */
    static of(db: Database.Database): SqliteDataVersion {
        let version = perConnection.get(db);
        if (!version) {
            version = new SqliteDataVersion(db);
            perConnection.set(db, version);
        }
        return version;
    }

    current(): number {
        if (!this.fresh) {
            this.value = this.statement.get() as number;
            this.fresh = true;
            setImmediate(this.expire);
        }
        return this.value;
    }
}

/**
 * A map valid for one data version: cleared when another connection commits, and when it holds
 * `maxEntries` (a flood of distinct ids cannot grow it without bound). Writes through this
 * connection must update or delete their own entries.
 */
export class DataVersionCache<V> {
    private readonly entries = new Map<string, V>();
    private version = Number.NaN;

    constructor(
        private readonly dataVersion: SqliteDataVersion,
        private readonly maxEntries = 10_000
    ) {}

    /** The cached value, after dropping everything if the database changed underneath. */
    get(key: string): V | undefined {
        const version = this.dataVersion.current();
        if (version !== this.version) {
            this.entries.clear();
            this.version = version;
        }
        return this.entries.get(key);
    }

    set(key: string, value: V): void {
        if (this.entries.size >= this.maxEntries) this.entries.clear();
        this.entries.set(key, value);
    }

    delete(key: string): void {
        this.entries.delete(key);
    }

    clear(): void {
        this.entries.clear();
    }
}
