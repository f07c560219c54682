// What the search tests share: a pg pool and a records-layer Db on the test database, and the nodes of an EXPLAIN plan.
import pg from 'pg';
import { inject } from 'vitest';
import { createDb, type Db } from '../../src/shared/records/database.js';

/** A node of EXPLAIN (FORMAT JSON), with the fields the tests read. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

/** The node and every node under it. */
export const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];

/** Two connections for seeding and EXPLAIN, and a Db for the code under test (close both in afterAll). */
export function openSearchDb(): { pool: pg.Pool; db: Db } {
  const { databaseUrl } = inject('testEnv');
  return { pool: new pg.Pool({ connectionString: databaseUrl, max: 2 }), db: createDb({ databaseUrl, databasePoolSize: 2 }) };
}
