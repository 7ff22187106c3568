/**
 * The AWS KMS JSON 1.1 API (../shared/reference/aws-kms-api.md) on the
 * node's listener: `POST /` routed by `X-Amz-Target: TrentService.<Op>`,
 * authenticated by SigV4 with an access key (auth.ts), authorised by the
 * policy engine under native command names (actions.ts). Replies carry
 * x-amzn-RequestId and an accurate Date (the JS SDK corrects its clock skew
 * from it); errors are AWS's (errors.ts).
 */
import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as v from "valibot";
import { Obj } from "../../node/pending.ts";
import { encodeBase64 } from "../../encoding/base64.ts";
import { Errors, KmsError } from "../../state/errors.ts";
import { authorize } from "../../state/policy.ts";
import type { AppDeps } from "../deps.ts";
import type { Env } from "../../net/env.ts";
import { isClientError } from "../../net/errors.ts";
import { authenticate } from "./auth.ts";
import { AwsError, awsErrorReply, toAwsError } from "./errors.ts";
import { accountOf } from "./keys.ts";
import type { AwsContext, AwsOperation } from "./operation.ts";
import { aliasOperations } from "./ops-aliases.ts";
import { cryptoOperations } from "./ops-crypto.ts";
import { keyOperations } from "./ops-keys.ts";

/** Largest request body: the biggest AWS KMS request (a key policy) is 32 KiB of JSON. */
export const AWS_MAX_BODY = 256 << 10;
const TARGET_PREFIX = "TrentService.";

/** The operations kms implements, by name. */
export const AWS_OPERATIONS: ReadonlyMap<string, AwsOperation> = new Map(
  [...keyOperations, ...aliasOperations, ...cryptoOperations].map((o) => [o.name, o]),
);

/** AWS KMS operations kms does not implement: UnsupportedOperationException, naming the operation. */
const UNSUPPORTED = new Set([
  "ConnectCustomKeyStore", "CreateCustomKeyStore", "CreateGrant", "DeleteCustomKeyStore", "DeleteImportedKeyMaterial", "DeriveSharedSecret",
  "DescribeCustomKeyStores", "DisconnectCustomKeyStore", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GetKeyLastUsage",
  "GetKeyPolicy", "GetParametersForImport", "GetPublicKey", "ImportKeyMaterial", "ListGrants", "ListKeyPolicies", "ListRetirableGrants",
  "PutKeyPolicy", "ReplicateKey", "RetireGrant", "RevokeGrant", "Sign", "UpdateCustomKeyStore", "UpdateKeyDescription",
  "UpdatePrimaryRegion", "Verify",
]);

/** JSON with blobs (Uint8Array) as standard base64, as AWS's JSON protocol has them. */
function json(value: unknown): string {
  return JSON.stringify(value, (_k, x) => (x instanceof Uint8Array ? encodeBase64(x) : x));
}

/** A 200 reply. */
function reply(body: Record<string, unknown> | void, requestId: string): Response {
  const text = json(body ?? {});
  return new Response(text, {
    status: 200,
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "content-length": String(new TextEncoder().encode(text).length),
      "x-amzn-requestid": requestId,
      date: new Date().toUTCString(),
    },
  });
}

/** The operation a target names; UnknownOperation for anything that is not AWS KMS's. */
function operationOf(target: string): AwsOperation {
  const name = target.slice(TARGET_PREFIX.length);
  const op = target.startsWith(TARGET_PREFIX) ? AWS_OPERATIONS.get(name) : undefined;
  if (op) return op;
  if (target.startsWith(TARGET_PREFIX) && UNSUPPORTED.has(name)) throw Errors.unsupportedOperation(`${name} is not supported by kms`);
  throw new AwsError("UnknownOperationException", `Unknown operation ${target}`);
}

/** The request body as a JSON object ({} when empty); SerializationException otherwise. */
function parseBody(bytes: Uint8Array): unknown {
  if (bytes.length === 0) return {};
  try {
    const value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    if (value === null) return {};
    if (typeof value !== "object" || Array.isArray(value)) throw new Error();
    return value;
  } catch {
    throw new AwsError("SerializationException", "the request body is not a JSON object");
  }
}

/** The AWS KMS API of a node: POST / with X-Amz-Target. */
export function awsRoutes(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  const limit = bodyLimit({
    maxSize: AWS_MAX_BODY,
    onError: () => awsErrorReply(new AwsError("ValidationException", `request body too large: at most ${AWS_MAX_BODY} bytes`), randomUUID()),
  });
  app.post("/", limit, async (c) => {
    const target = c.req.header("x-amz-target");
    if (target === undefined) return c.json({ message: "not found" }, 404);
    const requestId = randomUUID();
    try {
      const node = deps.node;
      const body = new Uint8Array(await c.req.arrayBuffer());
      const url = new URL(c.req.url);
      const who = await authenticate(node, { method: "POST", path: url.pathname, query: url.search.slice(1), headers: c.req.raw.headers, body }, Date.now());
      const op = operationOf(target);
      const parsed = v.safeParse(op.schema, parseBody(body));
      if (!parsed.success) {
        const issue = parsed.issues[0];
        throw new AwsError("ValidationException", `1 validation error detected: Value at '${v.getDotPath(issue) ?? "input"}' failed to satisfy constraint: ${issue.message}`);
      }
      const ctx: AwsContext = {
        node,
        region: who.region,
        enclave: who.enclave,
        account: accountOf(node.cluster),
        caller: who.caller,
        authorize: (command, name) => {
          if (!authorize(who.caller, command, who.enclave, name)) throw new AwsError("AccessDeniedException", "access denied: insufficient permissions");
        },
        barrier: (objects) => node.readBarrier([...who.reads, ...objects]),
      };
      await ctx.barrier([Obj.enclave(who.enclave)]);
      node.state.enclave(who.enclave);
      // Operations look keys up before awaits: material they hold is not zeroed under them (a restore, a deletion).
      const release = node.wiper.hold();
      try {
        return reply(await op.run(ctx, parsed.output), requestId);
      } finally {
        release();
      }
    } catch (err) {
      if (isClientError(err)) throw err; // the app's handler answers and logs it as the client's
      // An error of ours that is no KmsError says nothing to the client; its name (never its message) goes to the log.
      if (!(err instanceof KmsError) && !(err instanceof AwsError)) console.error(`kms: AWS ${target} failed: ${err instanceof Error ? err.name : "error"} (request ${requestId})`);
      return awsErrorReply(toAwsError(err), requestId);
    }
  });
  return app;
}
