#!/usr/bin/env bash
# npm test: generate the Prisma client, run vitest against real PostgreSQL/Redis, print "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
npx prisma generate >/dev/null || { echo "test: prisma generate failed" >&2; echo "0 passed, 1 failed"; exit 1; }
mkdir -p test-results
report=test-results/vitest.json
rm -f "$report"
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
code=$?
if [ -f "$report" ]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    // A file that fails to load has no failed test of its own: count it as one failure.
    const brokenFiles = (r.testResults || []).filter(s => s.status === "failed" && !s.assertionResults.some(a => a.status === "failed")).length;
    const failed = r.numFailedTests + brokenFiles;
    const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
    console.log(`${r.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
  ' "$report"
else
  echo "0 passed, 1 failed"
fi
exit $code
