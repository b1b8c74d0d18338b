set -e
DB=rjt_load_$$
psql -h 127.0.0.1 -U postgres -d test -qc "create database $DB"
URL=${URL:-postgres://postgres@127.0.0.1:5432/$DB}
export RESTJWT_SIGNING_KEY=bench-key-bench-key-bench-key-bench-key RESTJWT_SETTINGS='{"rotateRefreshTokens":true,"blacklistAfterRotation":true}'
echo 'correct horse battery staple' | node dist/cli/main.js createuser alice --password-stdin --database $URL >/dev/null
node dist/cli/main.js serve --workers ${WORKERS:-2} --port 18765 --no-request-log --database $URL > /tmp/serve.log 2>&1 &
PID=$!
sleep 3
SECONDS=5 node .scratch/load.mjs
(sleep 4; bash .scratch/cpu.sh 10) &
SECONDS=20 node .scratch/load.mjs
wait
kill $PID; sleep 1
psql -h 127.0.0.1 -U postgres -d test -qc "drop database $DB"
