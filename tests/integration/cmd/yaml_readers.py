#!/usr/bin/python3
"""Reads a YAML stream the way Python tools read manifests -- PyYAML's safe
loader, which the Kubernetes Python client (utils.create_from_yaml) and Ansible
use -- and prints what each loader made of it as JSON, so that a test can
compare types as well as values.

  yaml_readers.py FILE   -> {"SafeLoader": [doc, ...], "CSafeLoader": [...]}

CSafeLoader (libyaml underneath) is included when PyYAML was built with it.
A value JSON cannot hold with its type -- a date, a datetime, a non-finite
float, a mapping key that is not a string -- is printed as
{"!python": TYPE, "repr": REPR}, so it can never compare equal to a string.
"""
import json
import math
import sys

import yaml


def marked(value):
    return {"!python": type(value).__name__, "repr": repr(value)}


def plain(value):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = k if isinstance(k, str) else json.dumps(marked(k), sort_keys=True)
            out[key] = plain(v)
        return out
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return marked(value)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return marked(value)


def main(path):
    with open(path, "rb") as f:
        text = f.read()
    loaders = {"SafeLoader": yaml.SafeLoader}
    if getattr(yaml, "__with_libyaml__", False):
        loaders["CSafeLoader"] = yaml.CSafeLoader
    out = {}
    for name, loader in loaders.items():
        out[name] = [plain(doc) for doc in yaml.load_all(text, Loader=loader)]
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
