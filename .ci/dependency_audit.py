"""Run pip-audit on the CI environment and say plainly whether the audit really happened.

pip-audit looks every installed distribution up in a vulnerability service
(PyPI's JSON API by default, or OSV). Where that service cannot be reached,
or answers from a mirror without per-version vulnerability data, pip-audit
skips each package as "not found" and still prints "No known
vulnerabilities found". Reading that as a clean bill of health would be
wrong, so this script:

* fails (exit 1) when pip-audit reports a vulnerability that is not listed,
  with its justification, in ``.ci/pip-audit-ignore.txt``;
* passes, with a loud NOT AUDITED notice, when the service could not be
  used for most packages (no database: nothing was checked, nothing to fix);
* passes, saying how many packages were checked, otherwise.

Usage: python .ci/dependency_audit.py   (from the checkout, with the venv active)
"""

from __future__ import annotations

import json
import subprocess  # nosec B404 # runs pip-audit with a fixed argv
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
IGNORE_FILE = HERE / "pip-audit-ignore.txt"
# Distributions that are never on PyPI under this name and version: the project itself, the local torch build.
LOCAL = {"notereader"}


def ignored() -> dict[str, str]:
    """Vulnerability id -> the reason it does not apply (from the ignore file: `ID  # reason`)."""
    out: dict[str, str] = {}
    if IGNORE_FILE.exists():
        for line in IGNORE_FILE.read_text().splitlines():
            vid, _, reason = line.partition("#")
            if vid.strip():
                if not reason.strip():
                    sys.exit(f"{IGNORE_FILE.name}: {vid.strip()} has no reason; write `ID  # why it does not apply`")
                out[vid.strip()] = reason.strip()
    return out


def main() -> int:
    skip = ignored()
    argv = [sys.executable, "-m", "pip_audit", "--progress-spinner", "off", "--format", "json", "--timeout", "10"]
    for vid in skip:
        argv += ["--ignore-vuln", vid]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)  # nosec B603 # fixed argv, no shell
    except subprocess.TimeoutExpired:
        print("dependency audit: NOT AUDITED - pip-audit did not finish in 600 s (the vulnerability service is not "
              "answering). Nothing was checked.")
        return 0
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        print(f"dependency audit: NOT AUDITED - pip-audit could not run or reach its vulnerability service ({tail}). "
              "Nothing was checked; run `pip-audit` where PyPI's JSON API or OSV is reachable.")
        return 0
    deps = [d for d in report.get("dependencies", []) if d.get("name") not in LOCAL]
    looked_up = [d for d in deps if "skip_reason" not in d]
    vulnerable = [(d["name"], d["version"], v) for d in looked_up for v in d.get("vulns", []) if v["id"] not in skip]
    for name, version, v in vulnerable:
        fixes = ", ".join(v.get("fix_versions", [])) or "no fixed release yet"
        print(f"dependency audit: {name} {version} has {v['id']} (fixed in: {fixes})")
    if vulnerable:
        print(f"dependency audit: FAILED - {len(vulnerable)} known vulnerabilit{'y' if len(vulnerable) == 1 else 'ies'}. "
              f"Upgrade the pin in pyproject.toml, or add `ID  # why it does not apply` to {IGNORE_FILE.name}.")
        return 1
    if len(looked_up) < len(deps) / 2:
        print(f"dependency audit: NOT AUDITED - the vulnerability service answered for only {len(looked_up)} of "
              f"{len(deps)} installed packages (the package index reachable here has no per-release vulnerability "
              "data, and OSV is not reachable). This is not a clean result: nothing was checked.")
        return 0
    print(f"dependency audit: {len(looked_up)} of {len(deps)} packages checked, no known vulnerabilities"
          + (f" ({len(skip)} ignored with reasons in {IGNORE_FILE.name})" if skip else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
