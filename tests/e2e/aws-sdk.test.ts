/**
 * The AWS KMS API with the real AWS SDKs: one scenario (tests/aws/scenario.json)
 * run by @aws-sdk/client-kms and by boto3, against a kms server and against
 * moto_server's KMS. Every step must behave as the scenario says with both
 * SDKs against kms; both SDKs must see the same answers; and kms must answer
 * with the field names, types and error names moto answers with, except where
 * moto is known to differ from AWS (MOTO_DIFFERENCES, each with its reason).
 * Both SDKs run it once more against a kms server with two serving threads
 * (`--threads 2`: a connection the kernel gives a thread is handed to the
 * main thread's app), and must see exactly what they saw from one thread.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { cleanup as cleanupMoto, type Moto, startMoto } from "../helpers/kes.ts";
import { cleanup, type KmsServer, startServer } from "../helpers/kms.ts";
import { awsIdentity } from "../helpers/aws.ts";
import { differences, runJs, runPython, type StepResult, type Target } from "../helpers/aws-scenario.ts";

/**
 * Where moto_server (5.2) differs from AWS KMS, so kms rightly differs from
 * moto: step names (or "*") and the answer field (or "error") that differs.
 */
const MOTO_DIFFERENCES: ReadonlyArray<{ steps: string[] | "*"; what: string[]; why: string }> = [
  { steps: "*", what: ["KeyMetadata.KeyUsage"], why: "moto omits KeyUsage unless CreateKey was given one" },
  { steps: "*", what: ["KeyMetadata.MultiRegion"], why: "moto omits MultiRegion (AWS answers false)" },
  { steps: "*", what: ["KeyMetadata.SigningAlgorithms"], why: "moto lists SigningAlgorithms even for symmetric keys" },
  { steps: ["create hmac key"], what: ["KeyMetadata.MacAlgorithms", "KeyMetadata.EncryptionAlgorithms"], why: "moto gives HMAC keys EncryptionAlgorithms and no MacAlgorithms" },
  { steps: "*", what: ["EncryptionAlgorithm", "SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm"], why: "moto omits the algorithm from Encrypt, Decrypt and ReEncrypt answers" },
  { steps: ["list keys page 1"], what: ["NextMarker"], why: "moto ignores Limit: it never truncates, so there is no NextMarker" },
  { steps: ["list keys page 2"], what: ["error"], why: "with no NextMarker from moto the second page cannot be asked for (the runners skip it)" },
  { steps: ["list aliases of k1"], what: ["Aliases[].CreationDate", "Aliases[].LastUpdatedDate"], why: "moto omits the alias dates" },
  { steps: ["schedule deletion"], what: ["KeyState", "PendingWindowInDays"], why: "moto answers ScheduleKeyDeletion with KeyId and DeletionDate only" },
  { steps: ["describe pending deletion"], what: ["KeyMetadata.PendingDeletionWindowInDays"], why: "moto omits the window" },
  { steps: ["rotation status", "rotation status off"], what: ["KeyId", "RotationPeriodInDays", "NextRotationDate"], why: "moto answers GetKeyRotationStatus with KeyRotationEnabled only" },
  {
    steps: ["encrypt with disabled", "decrypt with disabled", "encrypt pending deletion", "decrypt pending deletion", "encrypt with a mac key"],
    what: ["error"], why: "moto does not enforce key states or key usage",
  },
  { steps: ["context is not a concatenation"], what: ["error"], why: "moto binds the context as key‖value concatenated, so {n1purpose: scenario} opens what {n: 1, purpose: scenario} sealed" },
  { steps: ["decrypt naming another key", "garbage ciphertext"], what: ["error"], why: "moto answers AccessDeniedException for both" },
  { steps: ["window too short"], what: ["error"], why: "moto accepts any PendingWindowInDays" },
  { steps: ["unsupported operation"], what: ["error"], why: "moto answers an unimplemented operation with an HTML 500 page" },
  { steps: ["wrong secret", "bad signature", "unknown access key", "skewed clock"], what: ["error"], why: "moto does not check signatures" },
];

const documented = new Set<string>();
function isMotoDifference(step: string, what: string): boolean {
  const i = MOTO_DIFFERENCES.findIndex((d) => (d.steps === "*" || d.steps.includes(step)) && d.what.includes(what));
  if (i >= 0) documented.add(`${i}`);
  return i >= 0;
}

let server: KmsServer;
let threaded: KmsServer;
let moto: Moto;
let kmsTarget: Target;
const runs: {
  kmsJs?: StepResult[]; kmsPy?: StepResult[]; motoJs?: StepResult[]; motoPy?: StepResult[]; threadsJs?: StepResult[]; threadsPy?: StepResult[];
} = {};

/** Failed expectations of a run, one line each. */
const failuresOf = (run: StepResult[]) => run.flatMap((r) => r.failures.map((f) => `${r.name}: ${f}${r.message ? ` (${r.message})` : ""}`));

describe("the AWS KMS scenario with @aws-sdk/client-kms and boto3, against kms and moto_server", () => {
  before(async () => {
    [server, threaded, moto] = await Promise.all([startServer(), startServer({ extraArgs: ["--threads", "2"] }), startMoto()]);
    kmsTarget = await awsIdentity(server.client(), "scenario-1", `https://${server.address}`, server.ca, server.caFile);
    const motoTarget: Target = { endpoint: moto.endpoint, region: "us-east-1", accessKeyId: "testing", secretAccessKey: "testing" };
    // kms with both SDKs at once (each in its own enclave's keys), then moto with both (one region each: moto keeps one state per region).
    const kmsPyTarget = await awsIdentity(server.client(), "scenario-2", `https://${server.address}`, server.ca, server.caFile);
    [runs.kmsJs, runs.kmsPy] = await Promise.all([runJs(kmsTarget), runPython(kmsPyTarget)]);
    [runs.motoJs, runs.motoPy] = await Promise.all([runJs(motoTarget), runPython({ ...motoTarget, region: "eu-west-1" })]);
    const on = (enclave: string) => awsIdentity(threaded.client(), enclave, `https://${threaded.address}`, threaded.ca, threaded.caFile);
    const [threadsJs, threadsPy] = [await on("scenario-1"), await on("scenario-2")];
    [runs.threadsJs, runs.threadsPy] = await Promise.all([runJs(threadsJs), runPython(threadsPy)]);
  });
  after(async () => {
    await cleanup();
    await cleanupMoto();
  });

  it("every step behaves as the scenario says with @aws-sdk/client-kms against kms", () => {
    assert.deepEqual(failuresOf(runs.kmsJs!), []);
  });

  it("every step behaves as the scenario says with boto3 against kms", () => {
    assert.deepEqual(failuresOf(runs.kmsPy!), []);
  });

  it("both SDKs see the same error names and answer shapes from kms; the JS SDK corrects a skewed clock from the reply's Date", () => {
    assert.deepEqual(differences(runs.kmsJs!, runs.kmsPy!, (step, what) => step === "skewed clock" && what === "error"), []);
    const skewed = runs.kmsJs!.find((r) => r.name === "skewed clock")!;
    assert.equal(runs.kmsPy!.find((r) => r.name === "skewed clock")!.error, "InvalidSignatureException");
    assert.equal(skewed.error, null);
    assert.equal(skewed.attempts, 2, "refused once, then signed with the server's time");
  });

  it("kms answers with moto's field names, types and error names, except where moto differs from AWS (each documented)", () => {
    assert.deepEqual(differences(runs.kmsJs!, runs.motoJs!, isMotoDifference), []);
    assert.deepEqual(differences(runs.kmsPy!, runs.motoPy!, isMotoDifference), []);
    // Every documented difference is still seen (moto changes: the table must not go stale).
    const unseen = MOTO_DIFFERENCES.filter((_, i) => !documented.has(`${i}`)).map((d) => d.why);
    assert.deepEqual(unseen, []);
  });

  it("with two serving threads, both SDKs see every step as the scenario says, and the same answers as from one thread", () => {
    assert.deepEqual(failuresOf(runs.threadsJs!), []);
    assert.deepEqual(failuresOf(runs.threadsPy!), []);
    assert.deepEqual(differences(runs.kmsJs!, runs.threadsJs!, () => false), []);
    assert.deepEqual(differences(runs.kmsPy!, runs.threadsPy!, () => false), []);
  });
});
