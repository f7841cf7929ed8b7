"""Fail unless the installed runtime dependencies are exactly the pinned lowest versions
and those are the lower bounds pyproject.toml declares (so the two files cannot drift)."""

import re
import sys
from importlib.metadata import version
from pathlib import Path

import tomllib
from packaging.version import Version

root = Path(__file__).resolve().parent.parent
project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
# The runtime dependencies, the otel extra, and the SDK that tests it (same lowest version).
otel_api = project["optional-dependencies"]["otel"]
otel_sdk = [r for r in project["optional-dependencies"]["dev"] if r.startswith("opentelemetry")]
declared = {}
for requirement in project["dependencies"] + otel_api + otel_sdk:
    name, bound = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", requirement).groups()
    declared[name.lower()] = bound
pinned = {}
for line in (root / ".ci" / "lowest-constraints.txt").read_text().splitlines():
    if line.strip() and not line.startswith("#"):
        name, pin = line.split("==")
        pinned[name.strip().lower()] = pin.strip()
problems = [
    f"{name}: pyproject says >={bound}, the constraints pin {pinned.get(name)}, "
    f"installed {version(name)}"
    for name, bound in declared.items()
    if name not in pinned
    or Version(pinned[name]) != Version(bound)
    or Version(version(name)) != Version(pinned[name])
]
if problems or set(pinned) != set(declared):
    sys.exit("lowest versions out of step:\n  " + "\n  ".join(problems or [str(pinned)]))
print("lowest versions:", ", ".join(f"{n} {v}" for n, v in sorted(pinned.items())))
