#ifndef SPOOL_CSQLITE_SHIM_H
#define SPOOL_CSQLITE_SHIM_H
#include <sqlite3.h>

// SQLITE_STATIC and SQLITE_TRANSIENT are macros over function-pointer casts that Swift
// cannot import; these constants give Swift the same destructor values.
static const sqlite3_destructor_type spool_sqlite_static = (sqlite3_destructor_type)0;
#define SPOOL_SQLITE_TRANSIENT ((sqlite3_destructor_type)-1)
static inline sqlite3_destructor_type spool_sqlite_transient(void) { return SPOOL_SQLITE_TRANSIENT; }
#endif
