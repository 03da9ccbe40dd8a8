export {
  DATABASE_FILE,
  MIGRATIONS,
  openSqliteBackend,
  SqliteJobQueue,
  SqliteTaskStore,
  type SqliteBackend,
} from './sqlite-backend.js';
