#!/usr/bin/env python3
"""Seeds and a dictionary for one fuzz target, made from tests/data/.

Usage: tests/fuzz/seeds.py TARGET SEED_DIR DICT_FILE   (TARGET without "fuzz_")

The test data stays where it is: this copies it, or derives from it what the
target reads (an AdmissionReview's object for flowspec, a monitor reply from
OVS rows, watch events from objects, collectors from specs), adds a few
protocol messages that have no test file, and writes the dictionary: the
token lists of tests/fuzz/dict/ the target uses, joined.
"""
import glob
import hashlib
import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DATA = os.path.join(ROOT, "tests", "data")
DICTS = os.path.join(ROOT, "tests", "fuzz", "dict")


def files(*patterns):
    out = []
    for p in patterns:
        out += sorted(glob.glob(os.path.join(DATA, p), recursive=True))
    return out


def read(path):
    with open(path, "rb") as f:
        return f.read()


def load(path):
    try:
        return json.loads(read(path))
    except ValueError:
        return None


def compact(value):
    return json.dumps(value, separators=(",", ":")).encode()


def json_docs(*patterns):
    return [d for d in (load(p) for p in files(*patterns)) if d is not None]


def network_objects():
    """Network objects: the flowspec inputs and the admission requests' objects."""
    objs = [d for d in json_docs("flowspec/*/input.json") if isinstance(d, dict)]
    for review in json_docs("admission/*/request.json"):
        request = review.get("request") if isinstance(review, dict) else None
        for key in ("object", "oldObject"):
            if isinstance(request, dict) and isinstance(request.get(key), dict):
                objs.append(request[key])
    return objs


def configmaps():
    """ConfigMaps publishing each flowconfig input, as the API server returns them."""
    out = []
    for path in files("flowconfig/*/input.json", "ovsplan/*/config.json"):
        out.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "exportflows-config", "namespace": "exportflows",
                                 "resourceVersion": "1"},
                    "data": {"config.json": read(path).decode("utf-8", "replace")}})
    return out


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_in(v)


def table_updates(rows):
    """A monitor cache {table: {uuid: row}} as RFC 7047 <table-updates>."""
    return {table: {uuid: {"new": row} for uuid, row in by_uuid.items()}
            for table, by_uuid in rows.items()}


def seeds_admission_review():
    return [read(p) for p in files("admission/*/request.json")]


def seeds_jsonscan_diff():
    return [read(p) for p in files("**/*.json")]


def seeds_flowspec():
    return [compact(o) for o in network_objects()]


def seeds_flowconfig():
    return [read(p) for p in files("flowconfig/*/input.json", "ovsplan/*/config.json")]


def seeds_ovsdb_reply():
    out = [b'{"id":"echo","method":"echo","params":[]}',
           b'{"id":2,"result":[{"uuid":["uuid","5d5b7a3e-0000-4000-8000-000000000001"]},'
           b'{"count":1}],"error":null}',
           b'{"id":2,"result":[{},{"error":"constraint violation",'
           b'"details":"no row"}],"error":null}',
           b'{"id":1,"result":null,"error":{"error":"unknown database"}}',
           b'{"id":null,"method":"update","params":["fuzz",{}]}']
    for rows in json_docs("ovsplan/*/rows.json"):
        updates = table_updates(rows)
        reply = compact({"id": 1, "result": updates, "error": None})
        notify = compact({"id": None, "method": "update", "params": ["fuzz", updates]})
        out += [reply, reply + notify, reply + b"\n" + compact(
            {"id": None, "method": "update",
             "params": ["fuzz", {t: {u: {"old": {}} for u in r} for t, r in rows.items()}]})]
    return out


def seeds_kubeconfig():
    out = []
    for path in files("kubeconfig/*/kubeconfig", "kubeconfig/*/invalid-yaml"):
        text = read(path)
        out.append(text)
        # Each named entry as the current context, to reach every context's errors.
        kept = b"\n".join(l for l in text.split(b"\n")
                          if not l.startswith(b"current-context:"))
        for line in text.split(b"\n"):
            if line.startswith(b"- name: "):
                out.append(kept + b"\ncurrent-context: " + line[8:].strip() + b"\n")
    return out


def seeds_watchstream():
    out = [b'{"type":"BOOKMARK","object":{"kind":"Network","metadata":{"resourceVersion":"7"}}}\n',
           b'{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure",'
           b'"message":"too old resource version: 1 (5)","reason":"Expired","code":410}}\n']
    lines = []
    for i, obj in enumerate(network_objects() + configmaps()):
        obj = dict(obj)
        obj["metadata"] = dict(obj.get("metadata") or {}, resourceVersion=str(100 + i))
        kind = ("ADDED", "MODIFIED", "DELETED")[i % 3]
        lines.append(compact({"type": kind, "object": obj}) + b"\n")
    out += lines
    out += [b"".join(lines[i:i + 3]) for i in range(0, len(lines), 3)]
    return out


def seeds_manifest():
    return [read(p) for p in files("manifests/**/*.yaml", "manifests/**/input.json",
                                   "manifests/cli/*/stdin")] + seeds_flowspec()


def seeds_collector():
    found = set()
    for doc in json_docs("flowspec/*/input.json", "flowconfig/*/input.json"):
        found.update(s for s in strings_in(doc) if ":" in s and len(s) <= 80)
    return sorted(s.encode("utf-8", "replace") for s in found) + [
        b"10.0.0.5", b"fd00::5", b"::ffff:10.0.0.1", b"[::]:1"]


def seeds_request_params():
    return [b"10s", b"1m0s", b"2.5s", b"500ms", b"1h", b"1.5h30m", b"\xc2\xb5s",
            b"3600000000", b"0", b"65535", b"18446744073709551615", b"1024"]


def seeds_ovsflowsconfig():
    return [compact(d["data"]) for d in json_docs("ovsflowsconfig/*/input.json")
            if isinstance(d, dict) and "data" in d]


def seeds_authorization():
    return [b"Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", b"Bearer  abc==  ",
            b"bearer sha256~x", b"Basic dXNlcjpwYXNz", b"Bearer", b""]


DICTIONARIES = {
    "authorization": ["bearer"],
    "admission_review": ["json", "kube"],
    "jsonscan_diff": ["json", "kube"],
    "flowspec": ["json", "kube", "address"],
    "flowconfig": ["json", "kube", "address"],
    "ovsdb_reply": ["json", "ovsdb"],
    "kubeconfig": ["yaml", "kubeconfig"],
    "watchstream": ["json", "kube"],
    "manifest": ["yaml", "json", "kube"],
    "collector": ["address"],
    "request_params": ["duration"],
    "ovsflowsconfig": ["json", "address", "duration"],
}


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: seeds.py TARGET SEED_DIR DICT_FILE")
    target, seed_dir, dict_file = sys.argv[1:]
    make = globals().get("seeds_" + target)
    if not make or target not in DICTIONARIES:
        sys.exit("seeds.py: no seeds for '%s': add seeds_%s() and a DICTIONARIES entry"
                 % (target, target))
    os.makedirs(seed_dir, exist_ok=True)
    seeds = make()
    if not seeds:
        sys.exit("seeds.py: no seeds for '%s' under tests/data" % target)
    for seed in seeds:
        name = hashlib.sha1(seed).hexdigest()
        with open(os.path.join(seed_dir, name), "wb") as f:
            f.write(seed)
    with open(dict_file, "wb") as out:
        for name in DICTIONARIES[target]:
            out.write(read(os.path.join(DICTS, name + ".dict")))


if __name__ == "__main__":
    main()
