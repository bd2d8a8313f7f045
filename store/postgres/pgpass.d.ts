// The pgpass module (libpq's ~/.pgpass and $PGPASSFILE rules) has no types of its own.
declare module 'pgpass' {
  interface ConnectionInfo {
    host?: string | null | undefined;
    port?: string | number | null | undefined;
    database?: string | null | undefined;
    user?: string | null | undefined;
  }
  function pgpass(connInfo: ConnectionInfo, callback: (password: string | undefined) => void): void;
  export default pgpass;
}
