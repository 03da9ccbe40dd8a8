import { prepareStatements, type Statements } from './statements.js';
import type { DB } from './schema.js';

/**
 * One connection shared by a backend's ports (they must share it: a task and its job are written in one
 * transaction). Closed when the last port using it is closed.
 */
export class SharedConnection {
  readonly sql: Statements;
  private users = 0;

  constructor(readonly db: DB) {
    this.sql = prepareStatements(db);
  }

  acquire(): void {
    this.users++;
  }

  release(): void {
    if (--this.users === 0 && this.db.open) this.db.close();
  }
}

/** Base of the port classes: holds the shared connection and gives it back once on close. */
export abstract class SqlitePort {
  protected readonly sql: Statements;
  private closed = false;

  constructor(protected readonly connection: SharedConnection) {
    connection.acquire();
    this.sql = connection.sql;
  }

  protected get db(): DB {
    return this.connection.db;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connection.release();
  }
}
