#!/usr/bin/env bash
# Proof with the real thing (issue #17): a real Prometheus scrapes a running Quandex with a bearer
# key (`authorization: credentials_file`) every second; after a burst of generations its HTTP API
# must answer non-zero for
#   sum(rate(quandex_generation_tokens_total[1m]))
#   histogram_quantile(0.5, sum by (le) (rate(quandex_time_to_first_token_seconds_bucket[1m])))
# Everything runs on loopback in a temp dir: its own data dir and keys, the shared test model.
# Needs `prometheus` (Debian package `prometheus`, installed by scripts/setup.sh) and a built tree
# (`npx tsc -b`). Prints both figures and exits 0, or says what failed and exits 1.
#
#   bash scripts/prometheus-check.sh            # QUANDEX_TEST_MODEL overrides the model
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODEL="${QUANDEX_TEST_MODEL:-$ROOT/../shared/models/stories260K.gguf}"
REQUESTS="${PROMETHEUS_CHECK_REQUESTS:-40}"
CLI=(node "$ROOT/packages/server/bin/quandex.js")

command -v prometheus >/dev/null || { echo "prometheus-check: prometheus is not installed (apt-get install prometheus)" >&2; exit 2; }
[[ -f "$MODEL" ]] || { echo "prometheus-check: no test model at $MODEL (set QUANDEX_TEST_MODEL)" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/qdx-prom-XXXXXX")"
QUANDEX_PID=""
PROM_PID=""
cleanup() {
    # Only the two processes this script started, by their ids.
    [[ -n "$PROM_PID" ]] && kill "$PROM_PID" 2>/dev/null || true
    [[ -n "$QUANDEX_PID" ]] && kill "$QUANDEX_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
    echo "prometheus-check: FAIL: $*" >&2
    echo "--- quandex log (tail)" >&2; tail -n 20 "$WORK/quandex.log" >&2 || true
    echo "--- prometheus log (tail)" >&2; tail -n 20 "$WORK/prometheus.log" >&2 || true
    exit 1
}
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

mkdir -p "$WORK/models" "$WORK/data" "$WORK/prom"
ln -s "$MODEL" "$WORK/models/stories260K.gguf"
key_of() { "${CLI[@]}" keys create --data-dir "$WORK/data" --name "$1" --scopes "$2" --unlimited --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).key))'; }
key_of scraper metrics > "$WORK/scraper.key"
GEN_KEY="$(key_of load generate)"

"${CLI[@]}" serve --port 0 --data-dir "$WORK/data" --models-dir "$WORK/models" --log-format json > "$WORK/quandex.log" 2>&1 &
QUANDEX_PID=$!
URL=""
for _ in $(seq 1 100); do
    URL="$(grep -o '"url":"http://[^"]*"' "$WORK/quandex.log" | head -n 1 | cut -d'"' -f4 || true)"
    [[ -n "$URL" ]] && break
    kill -0 "$QUANDEX_PID" 2>/dev/null || fail "quandex exited before listening"
    sleep 0.2
done
[[ -n "$URL" ]] || fail "quandex did not start listening"
TARGET="${URL#http://}"

PROM_PORT="$(free_port)"
cat > "$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: quandex
    scrape_interval: 1s
    scrape_timeout: 1s
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: $WORK/scraper.key
    static_configs:
      - targets: ["$TARGET"]
YAML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" --web.listen-address="127.0.0.1:$PROM_PORT" > "$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
PROM="http://127.0.0.1:$PROM_PORT"

query() { curl -fsS -G "$PROM/api/v1/query" --data-urlencode "query=$1"; }
value_of() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).data.result;console.log(r.length?r[0].value[1]:"none")})'; }

# The target must be up, with the key accepted, before the load: rate() needs samples on both sides.
up=""
for _ in $(seq 1 60); do
    up="$(query 'up{job="quandex"}' 2>/dev/null | value_of 2>/dev/null || true)"
    [[ "$up" == "1" ]] && break
    sleep 0.5
done
[[ "$up" == "1" ]] || fail "prometheus does not see the target up (up=$up): is the scrape key refused?"

echo "prometheus-check: quandex at $URL, prometheus at $PROM; sending $REQUESTS generations"
for i in $(seq 1 "$REQUESTS"); do
    code="$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$URL/v1/generate" -H "authorization: Bearer $GEN_KEY" -H 'content-type: application/json' \
        -d "{\"model\":\"stories260K\",\"prompt\":\"Once upon a time $i\",\"max_tokens\":32}")"
    [[ "$code" == "200" ]] || fail "generation $i answered $code"
    sleep 0.1
done

RATE_Q='sum(rate(quandex_generation_tokens_total[1m]))'
TTFT_Q='histogram_quantile(0.5, sum by (le) (rate(quandex_time_to_first_token_seconds_bucket[1m])))'
rate="none"; ttft="none"
for _ in $(seq 1 30); do
    rate="$(query "$RATE_Q" | value_of)"
    ttft="$(query "$TTFT_Q" | value_of)"
    if node -e 'const [a,b]=process.argv.slice(1).map(Number);process.exit(a>0&&b>0&&Number.isFinite(b)?0:1)' "$rate" "$ttft"; then
        echo "prometheus-check: $RATE_Q = $rate tokens/s"
        echo "prometheus-check: $TTFT_Q = $ttft s"
        echo "prometheus-check: OK"
        exit 0
    fi
    sleep 1
done
fail "after load: rate=$rate ttft_p50=$ttft (want both > 0)"
