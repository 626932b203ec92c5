#!/usr/bin/env python3
"""Adds up the TRX files of a test run and prints 'N passed, N failed' (skipped appended when any)."""
import glob
import sys
import xml.etree.ElementTree as ET

ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
files = glob.glob(f"{sys.argv[1]}/**/*.trx", recursive=True)
for f in files:
    counters = ET.parse(f).getroot().find("t:ResultSummary/t:Counters", ns)
    if counters is None:
        failed += 1
        continue
    passed += int(counters.get("passed", 0))
    failed += int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0)) + int(counters.get("aborted", 0))
    # VSTest leaves notExecuted at 0 for skipped xunit tests; count the results themselves.
    skipped += max(int(counters.get("notExecuted", 0)), int(counters.get("total", 0)) - int(counters.get("executed", 0)))
if not files:
    print("0 passed, 1 failed")
    sys.exit(1)
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
