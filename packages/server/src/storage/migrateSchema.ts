import type Database from "better-sqlite3";

/**
 * Brings one component's tables (keys, usage, buckets…) in the shared SQLite database up to date.
 * Each component owns a list of migrations: step N is `migrations[N - 1]`, applied once, in order,
 * and never edited once released (a change is a new step). The version each component reached is
 * kept in `schema_versions`, so components evolve independently in one file.
 *
 * Steps run in one `BEGIN IMMEDIATE` transaction with the version bump, so two processes opening
 * the same data dir at once (a server and the CLI) apply each step exactly once, and a crash mid-way
 * leaves the previous version intact.
 *
 * @throws Error when the database is newer than this build knows (a downgrade), naming both versions.
 */
export function migrateSchema(db: Database.Database, component: string, migrations: readonly string[]): void {
    db.exec("CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)");
    const read = db.prepare<[string], number>("SELECT version FROM schema_versions WHERE component = ?").pluck();
    const write = db.prepare<[string, number]>("INSERT INTO schema_versions (component, version) VALUES (?, ?) ON CONFLICT (component) DO UPDATE SET version = excluded.version");
    const apply = db.transaction(() => {
        const current = read.get(component) ?? 0;
        if (current > migrations.length) {
            throw new Error(`the data dir's '${component}' tables are at schema version ${current}, newer than this Quandex knows (${migrations.length}); use a newer build`);
        }
        for (let version = current + 1; version <= migrations.length; version++) db.exec(migrations[version - 1]!);
        if (current < migrations.length) write.run(component, migrations.length);
    });
    apply.immediate();
}
