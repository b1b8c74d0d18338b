#!/bin/sh
# Server instructions per request under callgrind: the "server" set-up of docs/benchmarks.md. Load-independent, so
# it decides micro-level changes on a shared machine where req/s cannot.
#
#   npm run bench:build && sh bench/instructions.sh [fastify|express|hono ...]
#
# For each framework, three server processes (public; protected with the cache; protected with BENCH_CACHE=0):
# 8000 warm-up requests (autocannon -c 4), zero the counters, exactly 4000 requests, dump, divide. Prints one line
# per run and the public ÷ protected ratios. DIST (default dist-bench) runs another build, e.g. a copy of the
# previous one for before/after pairs; WARM, N and C (connections) change the counts; BENCH_STATELESS=1 passes through.
# On a loaded machine use C=1: with -c 4 the count depends on how many requests each event-loop turn finds waiting
# (the same code moved by up to 20 % while other jobs ran); with one connection, repeats agreed within 0.01 %.
set -eu
DIST=${DIST:-dist-bench}
WARM=${WARM:-8000}
N=${N:-4000}
AC="node node_modules/autocannon/autocannon.js -c ${C:-4} -j"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# run FRAMEWORK PATH CACHE → instructions per request
run() {
  out="$TMP/$1-$3-$(echo "$2" | tr / _)"
  BENCH_CACHE=$3 valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$out.cg" \
    node "$DIST/bench/servers/restjwt-$1.js" >"$out.stdout" 2>"$out.stderr" &
  pid=$!
  until [ -s "$out.stdout" ]; do sleep 1; kill -0 $pid 2>/dev/null || { cat "$out.stderr" >&2; exit 1; }; done
  port=$(node -e 'const l=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8").split("\n")[0]);console.log(l.port)' "$out.stdout")
  token=$(node -e 'const l=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8").split("\n")[0]);console.log(l.token)' "$out.stdout")
  url="http://127.0.0.1:$port$2"
  $AC -a "$WARM" -H "Authorization=Bearer $token" "$url" >/dev/null
  callgrind_control -z $pid >/dev/null 2>&1
  $AC -a "$N" -H "Authorization=Bearer $token" "$url" >"$out.json"
  callgrind_control -d $pid >/dev/null 2>&1
  kill $pid; wait $pid 2>/dev/null || true
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    if (r.non2xx !== 0 || r.errors !== 0 || r.requests.total !== Number(process.argv[3])) throw new Error(`bad run: ${JSON.stringify({ non2xx: r.non2xx, errors: r.errors, total: r.requests.total })}`);
    const dump = require("fs").readdirSync(process.argv[4]).filter((f) => f.startsWith(process.argv[5]) && /\.cg\.\d+$/.test(f));
    const text = require("fs").readFileSync(`${process.argv[4]}/${dump.sort().at(-1)}`, "utf8");
    console.log(Math.round(Number(/^(?:summary|totals): (\d+)/m.exec(text)[1]) / r.requests.total));
  ' "$out.json" "" "$N" "$TMP" "$(basename "$out")"
}

for f in ${@:-fastify express hono}; do
  pub=$(run "$f" /api/public/ 1000)
  on=$(run "$f" /api/protected/ 1000)
  off=$(run "$f" /api/protected/ 0)
  node -e 'const [f, p, on, off] = process.argv.slice(1); const r = (x) => (p / x).toFixed(3);
    console.log(`${f}${process.env.BENCH_STATELESS === "1" ? " (stateless)" : ""}: public ${p}, protected cache on ${on} (${r(on)}), cache off ${off} (${r(off)}) instructions/request`)' "$f" "$pub" "$on" "$off"
done
