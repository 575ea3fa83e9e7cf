#!/usr/bin/env python3
"""Fails when a locked normal dependency of a workspace crate declares a newer
`rust-version` than the workspace does: the declared MSRV must be true of the tree."""
import json
import subprocess
import sys


def version(text):
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


metadata = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
)
packages = {p["id"]: p for p in metadata["packages"]}
members = set(metadata["workspace_members"])
declared = {packages[m]["rust_version"] for m in members} - {None}
if len(declared) != 1:
    sys.exit(f"workspace crates declare different rust-versions: {sorted(declared)}")
msrv = declared.pop()

# The normal (non-dev, non-build) dependencies of the workspace crates, transitively.
nodes = {n["id"]: n for n in metadata["resolve"]["nodes"]}
seen, todo = set(), list(members)
while todo:
    node = nodes[todo.pop()]
    for dep in node["deps"]:
        if any(kind["kind"] is None for kind in dep["dep_kinds"]) and dep["pkg"] not in seen:
            seen.add(dep["pkg"])
            todo.append(dep["pkg"])

too_new = sorted(
    (packages[p]["rust_version"], packages[p]["name"], packages[p]["version"])
    for p in seen
    if packages[p].get("rust_version") and version(packages[p]["rust_version"]) > version(msrv)
)
if too_new:
    for rust, name, ver in too_new:
        print(f"{name} {ver} needs Rust {rust}", file=sys.stderr)
    sys.exit(f"the workspace declares rust-version {msrv}, but the locked tree needs more")
print(f"rust-version {msrv} holds for all {len(seen)} locked normal dependencies")
