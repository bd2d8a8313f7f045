// The private PostgreSQL server the tests start is the bench's (bench/local-postgres.ts).
export { type PgServer, postgresBinaries, startPostgres } from '../../bench/local-postgres.js';
