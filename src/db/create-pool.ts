import {
  createPool as createSlonikPool,
  createTypeParserPreset,
  SchemaValidationError,
  type DatabasePool,
  type Interceptor,
  type QueryResultRow,
} from "slonik";

/**
 * Validates every row of a `sql.type(schema)` query against its zod schema,
 * so a query that drifts from its declared shape fails loudly where it runs.
 */
const resultParserInterceptor: Interceptor = {
  name: "runboard-result-parser",
  transformRow(queryContext, query, row, fields) {
    const parser = queryContext.resultParser;
    if (!parser) {
      return row;
    }
    const result = parser.safeParse(row);
    if (!result.success) {
      throw new SchemaValidationError(query, row, result.error.issues);
    }
    return result.data as QueryResultRow;
  },
};

export interface PoolOptions {
  maximumPoolSize?: number;
  /** Stack traces cost a little on every query; worth it in tests and development. */
  captureStackTrace?: boolean;
  /** More interceptors, after the result parser (tests read the SQL a function runs). */
  interceptors?: Interceptor[];
  /** slonik's limit on one statement (default 60 s); benchmarks over the raw table turn it off. */
  statementTimeout?: number | "DISABLE_TIMEOUT";
}

/**
 * A slonik pool with the project's type parsers (timestamptz as `Date`, int8 as number)
 * and the result-parser interceptor.
 */
export async function createPool(connectionUri: string, options: PoolOptions = {}): Promise<DatabasePool> {
  const typeParsers = [
    ...createTypeParserPreset().filter((parser) => parser.name !== "timestamptz" && parser.name !== "int8"),
    { name: "timestamptz", parse: (value: string) => new Date(value) },
    // GitHub's ids and every count here stay far below 2^53.
    { name: "int8", parse: (value: string) => Number(value) },
  ];
  return createSlonikPool(connectionUri, {
    captureStackTrace: options.captureStackTrace ?? false,
    // slonik's default sends DISCARD ALL each time a connection goes back to the pool: a round
    // trip per query, and it throws away the plans PostgreSQL keeps for PL/pgSQL functions
    // (runboard_write_batch). Nothing here leaves session state on a pooled connection: LISTEN,
    // session advisory locks and migrations each use a connection of their own.
    resetConnection: async () => {},
    maximumPoolSize: options.maximumPoolSize ?? 10,
    ...(options.statementTimeout !== undefined ? { statementTimeout: options.statementTimeout } : {}),
    interceptors: [resultParserInterceptor, ...(options.interceptors ?? [])],
    typeParsers,
  });
}
