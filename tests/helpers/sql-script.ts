/**
 * Runs SQL statements on one SQLite file and exits, so no connection of the
 * test process lingers on a server's database. Input on stdin:
 * {"db": PATH, "statements": [{"sql": SQL, "args": [BASE64, …]}]};
 * output: each statement's rows, blobs as {"b64": …}.
 */
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { createClient } from "@libsql/client";

const input = JSON.parse(readFileSync(0, "utf8")) as { db: string; statements: Array<{ sql: string; args: string[] }> };
const client = createClient({ url: pathToFileURL(input.db).href, concurrency: 1 });
const out = [];
for (const s of input.statements) {
  const rs = await client.execute({ sql: s.sql, args: s.args.map((a) => new Uint8Array(Buffer.from(a, "base64"))) });
  out.push(rs.rows.map((r) => Array.from(r, (v) => v instanceof ArrayBuffer ? { b64: Buffer.from(v).toString("base64") } : v)));
}
client.close();
process.stdout.write(JSON.stringify(out));
