"""Runs tests/aws/scenario.json with boto3 against an AWS KMS endpoint and
prints one JSON line per step: its error name (or null), its status, the
shape of its answer (field names and types) and any failed expectation.

usage: scenario.py SCENARIO ENDPOINT REGION ACCESS_KEY SECRET [CA_FILE]
"""
import base64
import datetime
import json
import sys

import boto3
import botocore.auth
import botocore.config
import botocore.exceptions

scenario_file, endpoint, region, access_key, secret = sys.argv[1:6]
ca = sys.argv[6] if len(sys.argv) > 6 else None
real_now = botocore.auth.get_current_datetime


def client(auth=None):
    key, sec = access_key, secret
    if auth == "wrong-secret":
        sec = secret[::-1]
    if auth == "unknown-key":
        key = "KMSKUNKNOWN000000000"
    c = boto3.client(
        "kms", endpoint_url=endpoint, region_name=region, aws_access_key_id=key, aws_secret_access_key=sec,
        verify=ca if ca else True, config=botocore.config.Config(retries={"max_attempts": 1}),
    )
    if auth == "bad-signature":
        def tamper(request, **_):
            h = request.headers["Authorization"]
            h = h.decode() if isinstance(h, bytes) else h
            request.headers["Authorization"] = h[:-1] + ("0" if h[-1] != "0" else "1")
        c.meta.events.register("before-send.kms.*", tamper)
    return c


def resolve(value, saved):
    if isinstance(value, str):
        if value.startswith("$"):
            if saved.get(value[1:]) is None:
                raise LookupError(f"no saved value {value}")
            return saved[value[1:]]
        if value.startswith("utf8:"):
            return value[5:].encode()
        if value.startswith("b64:"):
            return base64.b64decode(value[4:])
        return value
    if isinstance(value, list):
        return [resolve(v, saved) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, saved) for k, v in value.items()}
    return value


def shape(v):
    if isinstance(v, dict):
        return {k: shape(x) for k, x in sorted(v.items()) if k != "ResponseMetadata"}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    if isinstance(v, (bytes, bytearray)):
        return "blob"
    if isinstance(v, datetime.datetime):
        return "timestamp"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "null" if v is None else type(v).__name__


def at(value, path):
    for part in path.split("."):
        if isinstance(value, list):
            i = int(part)
            value = value[i] if i < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def shown(v):
    return base64.b64encode(v).decode() if isinstance(v, (bytes, bytearray)) else v


def run():
    saved = {}
    default = client()
    for step in json.load(open(scenario_file))["steps"]:
        auth = step.get("auth")
        c = client(auth) if auth else default
        if auth == "skewed-clock":
            botocore.auth.get_current_datetime = lambda remove_tzinfo=True: real_now(remove_tzinfo) - datetime.timedelta(minutes=15)
        out = {"name": step["name"], "op": step["op"], "error": None, "status": 200, "shape": None, "failures": []}
        try:
            method = getattr(c, botocore.xform_name(step["op"]))
            answer = method(**resolve(step.get("params", {}), saved))
            out["status"] = answer["ResponseMetadata"]["HTTPStatusCode"]
            out["shape"] = shape(answer)
            for name, path in step.get("save", {}).items():
                saved[name] = at(answer, path)
            for path, want in step.get("equal", {}).items():
                got, expected = at(answer, path), resolve(want, saved)
                if got != expected:
                    out["failures"].append(f"{path}: expected {shown(expected)!r}, got {shown(got)!r}")
        except LookupError as e:
            out["error"] = "Skipped"
            out["message"] = str(e)
        except botocore.exceptions.ClientError as e:
            out["error"] = e.response["Error"]["Code"]
            out["status"] = e.response["ResponseMetadata"]["HTTPStatusCode"]
            out["message"] = e.response["Error"].get("Message", "")
        finally:
            botocore.auth.get_current_datetime = real_now
        expect = step.get("expect", "ok")
        if (out["error"] or "ok") != expect:
            out["failures"].append(f"expected {expect}, got {out['error'] or 'ok'}")
        print(json.dumps(out), flush=True)


run()
