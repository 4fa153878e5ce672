#!/usr/bin/env bash
# `hnp-search serve` with 1 and 2 workers under wrk (Debian's `wrk`: a C load generator that leaves
# the cores to the server, unlike bench_server.py's Python clients on this 2-core machine).
# Each request on a new connection ("Connection: close"), so the kernel spreads them over the
# workers; 16 connections, the dantri bench queries as typed, limit 10, snippets.
#   bash bench/server_wrk.sh INDEX_DIR [SECONDS]   → bench/results/server-wrk.md
set -euo pipefail
cd "$(dirname "$0")/.."
index=${1:?an index of dantri}; seconds=${2:-20}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
.venv/bin/python - "$work/queries.lua" <<'PY'
import json, sys, urllib.parse
queries = [r["query"] for f in ("bench/queries/typed.jsonl", "bench/queries/known_items.jsonl")
           for r in map(json.loads, filter(str.strip, open(f, encoding="utf-8"))) if r.get("corpus", "dantri") == "dantri"]
paths = ", ".join(json.dumps("/search?limit=10&q=" + urllib.parse.quote(q)) for q in queries)
open(sys.argv[1], "w").write(f"paths = {{{paths}}}\nn = 0\nrequest = function()\n  n = n + 1\n"
                             "  return wrk.format(\"GET\", paths[(n % #paths) + 1])\nend\n")
PY
out=bench/results/server-wrk.md
{ echo "# \`hnp-search serve\` under wrk (dantri, 16 connections, a new one per request, ${seconds} s)"; echo
  echo "| workers | req/s | p50 | p90 | p99 | errors |"; echo "|---:|---:|---:|---:|---:|---|"; } > "$out"
for workers in 1 2; do
    port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    .venv/bin/hnp-search serve --index-dir "$index" --port "$port" --workers "$workers" > "$work/serve.log" 2>&1 &
    server=$!
    for _ in $(seq 120); do curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.5; done
    wrk -t1 -c16 -d10s -H "Connection: close" -s "$work/queries.lua" "http://127.0.0.1:$port" > /dev/null  # warm-up
    wrk -t1 -c16 -d"${seconds}s" --latency --timeout 10s -H "Connection: close" -s "$work/queries.lua" \
        "http://127.0.0.1:$port" > "$work/wrk.txt"
    kill "$server"; wait "$server" 2>/dev/null || true
    awk -v w="$workers" '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +90%/ {p90=$2} /^ +99%/ {p99=$2}
        /Socket errors|Non-2xx/ {err=err $0 " "} END {printf "| %s | %s | %s | %s | %s | %s |\n", w, rps, p50, p90, p99, (err ? err : "none")}' \
        "$work/wrk.txt" >> "$out"
done
cat "$out"
