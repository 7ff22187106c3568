import assert from "node:assert/strict";
import { test } from "node:test";
import { Metrics, outcomeOf } from "./metrics.ts";

/** The value of one sample line of the text format. */
function sample(text: string, line: RegExp): number {
  const m = text.split("\n").find((l) => line.test(l));
  assert.ok(m, `no sample ${line} in:\n${text}`);
  return Number(m.split(" ").pop());
}

test("a pipelined request of 1,000 GENERATE frames counts 1,000 operations; outcomes follow the status", async () => {
  const m = new Metrics({ version: "0.1.0", startedAt: Date.now() });
  try {
    const commands = new Map([["KEY:GENERATE", { id: "207", n: 1000 }]]);
    m.observe({ api: "native", status: 200, seconds: 0.004, requestBytes: 40_000, responseBytes: 90_000, commands });
    m.observe({ api: "native", status: 403, seconds: 0.001, requestBytes: 40, responseBytes: 40, commands: new Map([["KEY:GENERATE", { id: "207", n: 1 }]]) });
    m.observe({ api: "native", status: 400, seconds: 0.001, requestBytes: 40, responseBytes: 20, commands: new Map([["KEY:DECRYPT", { id: "206", n: 3 }]]) });
    const text = await m.text();
    assert.equal(sample(text, /^kms_commands_total\{api="native",command="KEY:GENERATE",id="207",outcome="ok"\}/), 1000);
    assert.equal(sample(text, /^kms_commands_total\{api="native",command="KEY:GENERATE",id="207",outcome="denied"\}/), 1);
    assert.equal(sample(text, /^kms_crypto_errors_total\{command="KEY:DECRYPT"\}/), 3);
    assert.equal(sample(text, /^kms_http_requests_total\{api="native",code="200"\}/), 1);
    assert.equal(sample(text, /^kms_http_request_size_bytes_sum\{api="native"\}/), 40_080);
    assert.match(text, /^kms_build_info\{version="0\.1\.0",runtime="[a-z]+ [\d.]+[^"]*"\} 1$/m);
  } finally {
    m.close();
  }
});

test("KES's names count KES requests: success, error (4xx), failure (5xx), active", async () => {
  const m = new Metrics({ version: "0.1.0", startedAt: Date.now() - 5000 });
  try {
    m.inFlight("kes", 1);
    for (const status of [200, 200, 404, 503]) m.observe({ api: "kes", status, seconds: 0.02, requestBytes: 0, responseBytes: 10 });
    const text = await m.kesText();
    assert.equal(sample(text, /^kes_http_request_success /), 2);
    assert.equal(sample(text, /^kes_http_request_error /), 1);
    assert.equal(sample(text, /^kes_http_request_failure /), 1);
    assert.equal(sample(text, /^kes_http_request_active /), 1);
    assert.equal(sample(text, /^kes_http_response_time_count /), 4);
    assert.ok(sample(text, /^kes_system_up_time /) >= 5);
    assert.match(text, /^kms_http_requests_total/m, "kms's names follow KES's");
  } finally {
    m.close();
  }
});

test("cluster and state figures are read at scrape time; counts only", async () => {
  const m = new Metrics({ version: "0.1.0", startedAt: Date.now() }, {
    cluster: () => ({ role: "follower", nodeId: 2, leaderId: 0, commit: 7, applied: 7, members: 3, heartbeatAgeSeconds: 0.2, writesInFlight: 1 }),
    state: () => ({ enclaves: 2, keys: 10, identities: 4, policies: 1 }),
  });
  try {
    const text = await m.text();
    assert.equal(sample(text, /^kms_cluster_role\{role="follower"\}/), 1);
    assert.equal(sample(text, /^kms_cluster_leader_id /), 0);
    assert.equal(sample(text, /^kms_state_objects\{kind="keys"\}/), 10);
    assert.doesNotMatch(text, /kms_cluster_members\{/, "a follower does not report who is up");
  } finally {
    m.close();
  }
  assert.equal(outcomeOf(504), "unknown");
  assert.equal(outcomeOf(413), "invalid");
});
