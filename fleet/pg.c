/* pg.c - the head office's PostgreSQL schema: created and migrated by
 * whichever earshot command connects first (collector or report), under
 * an advisory lock so that several collectors starting together migrate
 * once. The schema is documented in fleet/README.md. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"

/* Never edit a migration that has shipped: add one. */
static const char *const migrations[] = {
    /* 1 */
    "CREATE TABLE sites ("
    "  site text PRIMARY KEY,"
    "  region text NOT NULL);"
    /* One kiosk database's one day: the report it sent, by hash, so that
     * the same message again changes nothing and a corrected day replaces
     * the old one. */
    "CREATE TABLE periods ("
    "  db_id text NOT NULL,"
    "  period date NOT NULL,"
    "  site text NOT NULL,"
    "  hash text NOT NULL,"
    "  min_group integer NOT NULL,"
    "  timezone text NOT NULL,"
    "  generator text,"
    "  filter_since text, filter_until text, filter_channel text,"
    "  period_from text, period_to text,"
    "  received_at timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY (db_id, period));"
    "CREATE INDEX periods_period ON periods (period);"
    "CREATE INDEX periods_site ON periods (site);"
    /* One figure of one row of one table of that day's report. */
    "CREATE TABLE figures ("
    "  db_id text NOT NULL,"
    "  period date NOT NULL,"
    "  tbl text NOT NULL,"
    "  key1 text NOT NULL DEFAULT '',"
    "  key2 text NOT NULL DEFAULT '',"
    "  cell text NOT NULL,"
    "  n bigint NOT NULL,"
    "  sessions bigint NOT NULL,"
    "  flags smallint NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (db_id, period, tbl, key1, key2, cell),"
    "  FOREIGN KEY (db_id, period) REFERENCES periods ON DELETE CASCADE);"
    "CREATE TABLE quotes ("
    "  db_id text NOT NULL,"
    "  period date NOT NULL,"
    "  tbl text NOT NULL,"
    "  key1 text NOT NULL DEFAULT '',"
    "  key2 text NOT NULL DEFAULT '',"
    "  text text NOT NULL,"
    "  confidence integer NOT NULL,"
    "  FOREIGN KEY (db_id, period) REFERENCES periods ON DELETE CASCADE);"
    "CREATE INDEX quotes_period ON quotes (db_id, period);",
    /* 2: no foreign keys from figures and quotes to periods. The check ran
     * once per figure row and took two thirds of the collector's time
     * (bench/fleet.sh: 855 -> 2,552 kiosk-days/s, sample day); the
     * collector, the only writer, inserts a day's figures after its
     * periods row in one transaction and deletes them itself when the
     * day is replaced. */
    "ALTER TABLE figures DROP CONSTRAINT IF EXISTS figures_db_id_period_fkey;"
    "ALTER TABLE quotes DROP CONSTRAINT IF EXISTS quotes_db_id_period_fkey;",
    /* 3: the figures summed per site and day, kept by the collector in the
     * transaction that stores the reports. The fleet report reads this
     * instead of every kiosk's rows: 1,000 kiosks in 50 shops make it 20
     * times smaller. inputs/unknown/partial count the kiosk rows and their
     * flags, so merge's rules (all suppressed stays suppressed, some makes
     * "at least") come out as they would from the kiosk rows. */
    "CREATE TABLE site_figures ("
    "  site text NOT NULL,"
    "  period date NOT NULL,"
    "  tbl text NOT NULL,"
    "  key1 text NOT NULL,"
    "  key2 text NOT NULL,"
    "  cell text NOT NULL,"
    "  n bigint NOT NULL,"
    "  sessions bigint NOT NULL,"
    "  inputs integer NOT NULL,"
    "  unknown integer NOT NULL,"
    "  partial integer NOT NULL,"
    "  PRIMARY KEY (site, period, tbl, key1, key2, cell));"
    "INSERT INTO site_figures SELECT p.site, f.period, f.tbl, f.key1, f.key2, f.cell,"
    "  sum(f.n), sum(f.sessions), count(*), count(*) FILTER (WHERE f.flags & 1 <> 0),"
    "  count(*) FILTER (WHERE f.flags & 2 <> 0)"
    "  FROM figures f JOIN periods p USING (db_id, period) GROUP BY 1, 2, 3, 4, 5, 6;",
};

int earshot__fleet_exec(const char *cmd, PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) {
        const char *m = PQresultErrorMessage(r);
        fprintf(stderr, "earshot %s: PostgreSQL: %.*s\n", cmd, (int)strcspn(m, "\n"), m);
    }
    PQclear(r);
    return ok;
}

static int migrate(const char *cmd, PGconn *pg)
{
    /* The advisory lock is held to the end of the transaction: a second
     * collector waits, then finds the schema current. */
    if (!earshot__fleet_exec(cmd, pg, "BEGIN; SELECT pg_advisory_xact_lock(7414611);"
                                      "CREATE TABLE IF NOT EXISTS schema_version"
                                      " (version integer NOT NULL);"))
        return 0;
    PGresult *r = PQexec(pg, "SELECT coalesce(max(version), 0) FROM schema_version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorMessage(r);
        fprintf(stderr, "earshot %s: PostgreSQL: %.*s\n", cmd, (int)strcspn(m, "\n"), m);
        PQclear(r);
        earshot__fleet_exec(cmd, pg, "ROLLBACK");
        return 0;
    }
    int have = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    int want = (int)(sizeof migrations / sizeof *migrations);
    if (have > want) {
        fprintf(stderr, "earshot %s: the fleet database has schema version %d; this earshot "
                "knows up to %d: upgrade earshot\n", cmd, have, want);
        earshot__fleet_exec(cmd, pg, "ROLLBACK");
        return 0;
    }
    for (int v = have + 1; v <= want; v++) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM schema_version; INSERT INTO schema_version "
                                  "VALUES (%d)", v);
        if (!earshot__fleet_exec(cmd, pg, migrations[v - 1]) ||
            !earshot__fleet_exec(cmd, pg, sql)) {
            earshot__fleet_exec(cmd, pg, "ROLLBACK");
            return 0;
        }
    }
    return earshot__fleet_exec(cmd, pg, "COMMIT");
}

static void quiet(void *arg, const PGresult *res)
{
    (void)arg;
    (void)res; /* NOTICEs of CREATE ... IF NOT EXISTS are not news */
}

PGconn *earshot__fleet_connect(const char *cmd, const char *conninfo)
{
    PGconn *pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        const char *m = PQerrorMessage(pg);
        fprintf(stderr, "earshot %s: cannot connect to PostgreSQL: %.*s\n", cmd,
                (int)strcspn(m, "\n"), m);
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeReceiver(pg, quiet, NULL);
    if (!migrate(cmd, pg)) {
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int earshot__fleet_sites_import(const char *cmd, PGconn *pg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "earshot %s: %s: %s\n", cmd, path, strerror(errno));
        return 1;
    }
    if (!earshot__fleet_exec(cmd, pg, "BEGIN")) {
        fclose(f);
        return 1;
    }
    char line[1024];
    int lineno = 0, n = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            fprintf(stderr, "earshot %s: %s:%d: line too long\n", cmd, path, lineno);
            rc = 1;
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *comma = strchr(s, ',');
        if (!comma || strchr(comma + 1, ',') || strchr(s, '"')) {
            fprintf(stderr, "earshot %s: %s:%d: expected site,region\n", cmd, path, lineno);
            rc = 1;
            break;
        }
        *comma = '\0';
        const char *site = trim(s), *region = trim(comma + 1);
        if (n == 0 && lineno == 1 && !strcmp(site, "site") && !strcmp(region, "region"))
            continue; /* the header */
        if (!*site || !*region) {
            fprintf(stderr, "earshot %s: %s:%d: empty site or region\n", cmd, path, lineno);
            rc = 1;
            break;
        }
        const char *vals[2] = {site, region};
        PGresult *r = PQexecParams(pg, "INSERT INTO sites VALUES ($1, $2) ON CONFLICT (site) "
                                       "DO UPDATE SET region = EXCLUDED.region",
                                   2, NULL, vals, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            const char *m = PQresultErrorMessage(r);
            fprintf(stderr, "earshot %s: PostgreSQL: %.*s\n", cmd, (int)strcspn(m, "\n"), m);
            rc = 1;
        }
        PQclear(r);
        if (rc)
            break;
        n++;
    }
    fclose(f);
    if (rc) {
        earshot__fleet_exec(cmd, pg, "ROLLBACK");
        return 1;
    }
    if (!earshot__fleet_exec(cmd, pg, "COMMIT"))
        return 1;
    printf("earshot %s: %d sites imported from %s\n", cmd, n, path);
    return 0;
}
