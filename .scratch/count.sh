set -e
DB=rjt_count_$$
psql -h 127.0.0.1 -U postgres -d test -qc "create database $DB"
URL=postgres://postgres@127.0.0.1:5432/$DB
export RESTJWT_SIGNING_KEY=bench-key-bench-key-bench-key-bench-key RESTJWT_SETTINGS='{"rotateRefreshTokens":true,"blacklistAfterRotation":true}'
echo 'correct horse battery staple' | node dist/cli/main.js createuser alice --password-stdin --database $URL >/dev/null
node dist/cli/main.js serve --port 18765 --no-request-log --database $URL > /tmp/serve.log 2>&1 &
PID=$!
sleep 2
R=$(curl -s -XPOST localhost:18765/api/token/ -H 'content-type: application/json' -d '{"username":"alice","password":"correct horse battery staple"}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["refresh"])')
psql -h 127.0.0.1 -U postgres -d $DB -qc "alter system set log_statement='all'" -c "select pg_reload_conf()" >/dev/null
sleep 0.5
for i in 1 2 3; do R=$(curl -s -XPOST localhost:18765/api/token/refresh/ -H 'content-type: application/json' -d "{\"refresh\":\"$R\"}" | python3 -c 'import sys,json;print(json.load(sys.stdin)["refresh"])'); done
psql -h 127.0.0.1 -U postgres -d $DB -qc "alter system reset log_statement" -c "select pg_reload_conf()" >/dev/null
kill $PID; sleep 1
psql -h 127.0.0.1 -U postgres -d test -qc "drop database $DB"
