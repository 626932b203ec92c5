#!/usr/bin/env bash
# Records every new public symbol of the shipping projects in its PublicAPI.Unshipped.txt and drops
# symbols that no longer exist. Run it deliberately after changing a public surface, then review the
# diff: the PublicAPI analyzer fails the build until the baseline says what the surface is.
# (dotnet format does not apply RS0016's fix here, so we read the analyzer's SARIF output instead.)
set -euo pipefail
cd "$(dirname "$0")/.."
projects=("$@")
[ ${#projects[@]} -gt 0 ] || projects=(src/*/*.csproj)
for proj in "${projects[@]}"; do
  dir=$(dirname "$proj"); sarif=$(mktemp --suffix=.sarif)
  dotnet build "$proj" -p:ErrorLog="$sarif%2Cversion=2.1" -p:TreatWarningsAsErrors=false >/dev/null 2>&1 || true
  python3 - "$sarif" "$dir" <<'PY'
import json, sys, os
sarif, d = sys.argv[1], sys.argv[2]
try:
    runs = json.load(open(sarif))["runs"]
except Exception:
    sys.exit(0)
add, remove = set(), set()
for run in runs:
    for r in run.get("results", []):
        props = r.get("properties", {}).get("customProperties", {})
        if r.get("ruleId") == "RS0016" and props.get("APIName"):
            if os.path.normpath(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].replace("file://", "")).startswith(os.path.abspath(d)):
                add.add(props["APIName"])
        elif r.get("ruleId") == "RS0017":
            msg = r["message"]["text"]
            remove.add(msg.split("'", 1)[1].rsplit("'", 1)[0])
path = os.path.join(d, "PublicAPI.Unshipped.txt")
lines = [l.rstrip("\n") for l in open(path)] if os.path.exists(path) else ["#nullable enable"]
body = sorted((set(l for l in lines[1:] if l.strip()) | add) - remove)
open(path, "w").write("\n".join([lines[0] or "#nullable enable"] + body) + "\n")
if add or remove:
    print(f"{path}: +{len(add)} -{len(remove)}")
PY
  rm -f "$sarif"
done
