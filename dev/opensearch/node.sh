#!/usr/bin/env bash
# Start (in the background, returning once the cluster is green) or stop the local OpenSearch dev node(s).
#   dev/opensearch/node.sh start | stop | status
# Settings from the environment (the Makefile passes its OS_* variables):
#   OS_NODES (1)  OS_HTTP_PORT (9200)  OS_TRANSPORT_PORT (9300)  OS_HEAP (1g, for the one JVM
#   that runs every node)  OS_TIMEOUT (120 s to reach green)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
nodes="${OS_NODES:-1}"
http_port="${OS_HTTP_PORT:-9200}"
transport_port="${OS_TRANSPORT_PORT:-9300}"
heap="${OS_HEAP:-1g}"
timeout="${OS_TIMEOUT:-120}"
data="$here/data"
pidfile="$here/opensearch.pid"
log="$here/opensearch.log"
url="http://127.0.0.1:$http_port"

running() {  # the pid in the pid file, if that process is alive
    [[ -f "$pidfile" ]] || return 1
    local pid
    pid="$(cat "$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    # A pid left from an earlier boot may now be some other program's: only ours counts.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q hnp.dev.OpenSearchNode || return 1
    echo "$pid"
}

health() {  # the cluster's status word (green, yellow, red), or nothing if no node answers
    curl -s --max-time 3 "$url/_cluster/health?wait_for_nodes=$nodes&timeout=1s" 2>/dev/null \
        | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p'
}

fail() {
    echo "opensearch: $*" >&2
    if [[ -f "$log" ]]; then
        echo "--- last lines of $log ---" >&2
        tail -n 40 "$log" >&2
    fi
    exit 1
}

start() {
    local pid
    if pid="$(running)"; then
        if [[ "$(health)" == green ]]; then
            echo "opensearch: already running (pid $pid) at $url, green"
            return 0
        fi
        echo "opensearch: pid $pid is running but not green yet; waiting"
    else
        rm -f "$pidfile"
        if [[ -n "$(health)" ]]; then
            fail "something not started here already answers at $url; stop it or set OS_HTTP_PORT"
        fi
        command -v java >/dev/null || fail "java is not installed (Java 17 is needed)"
        [[ -f "$here/target/classes/hnp/dev/OpenSearchNode.class" ]] \
            || fail "the launcher is not built: run make opensearch (it runs mvn package first)"
        mkdir -p "$data"
        nohup java "-Xms$heap" "-Xmx$heap" -Dfile.encoding=UTF-8 \
            -cp "$here/target/classes:$here/target/lib/*" hnp.dev.OpenSearchNode \
            --data "$data" --nodes "$nodes" --http-port "$http_port" --transport-port "$transport_port" \
            >"$log" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$pidfile"
        echo "opensearch: started pid $pid ($nodes node(s), heap $heap), log $log"
    fi
    local began=$SECONDS
    while (( SECONDS - began < timeout )); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pidfile"
            fail "the node process $pid exited before the cluster was green"
        fi
        if [[ "$(health)" == green ]]; then
            echo "opensearch: green after $(( SECONDS - began )) s at $url"
            return 0
        fi
        sleep 0.5
    done
    kill "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    fail "not green after $timeout s (status: '$(health)'); stopped pid $pid"
}

stop() {
    local pid
    if pid="$(running)"; then
        kill "$pid"
        local waited=0
        while kill -0 "$pid" 2>/dev/null && (( waited < 60 )); do
            sleep 0.5
            waited=$(( waited + 1 ))
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "opensearch: pid $pid did not stop in 30 s; killing it" >&2
            kill -9 "$pid" 2>/dev/null || true
        fi
        echo "opensearch: stopped pid $pid"
    else
        echo "opensearch: not running"
    fi
    rm -f "$pidfile"
    rm -rf "$data"
}

status() {
    local pid
    if pid="$(running)"; then
        echo "opensearch: pid $pid, $url, status '$(health)'"
    else
        echo "opensearch: not running"
        return 1
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
