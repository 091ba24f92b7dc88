// Runs one SQL statement in an in-memory DuckDB and prints its rows as a
// JSON array of objects on stdout. Used by internal/duckdb's Go helper so
// that tests check exportd's files with a reader nobody here wrote.
import { DuckDBInstance } from '@duckdb/node-api';

const sql = process.argv[2];
const db = await DuckDBInstance.create(':memory:');
const conn = await db.connect();
const reader = await conn.runAndReadAll(sql);
const rows = reader.getRowObjectsJson();
process.stdout.write(JSON.stringify(rows));
