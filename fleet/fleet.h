/* fleet.h - head office: kiosks' daily reports collected from an MQTT
 * broker into PostgreSQL (collect.c), and the fleet report built from
 * there (fleet_report.c). Linked into the earshot command only, never
 * into libearshot (which must not depend on libpq or libmosquitto). */
#ifndef EARSHOT_FLEET_H
#define EARSHOT_FLEET_H

#include <libpq-fe.h>

/* The schema version this earshot creates and reads. */
#define EARSHOT_FLEET_SCHEMA 1

/* Connects to PostgreSQL (a libpq connection string or postgresql:// URL)
 * and creates or migrates the schema (fleet/README.md). NULL on failure,
 * after one line on stderr naming cmd. */
PGconn *earshot__fleet_connect(const char *cmd, const char *conninfo);

/* Runs sql; 1 if it succeeded (and returned rows or not), else 0 after
 * one line on stderr. */
int earshot__fleet_exec(const char *cmd, PGconn *pg, const char *sql);

/* Reads `sites.csv` (site,region per line, an optional header) into the
 * sites table: `earshot sites import FILE --pg URL`. */
int earshot__fleet_sites_import(const char *cmd, PGconn *pg, const char *path);

#endif
