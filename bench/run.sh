#!/usr/bin/env bash
# bench/run.sh — `make bench`: wrk side by side on this machine, in one run:
#
#   direct            wrk → backend nginx (1 worker, `return 200 "ok\n"`): the ceiling
#   nginx proxy       wrk → nginx (2 workers, keepalive upstream) → backend: the yardstick
#   portcullis ...    wrk → bin/portcullis (one route per row) → backend
#   ..., audit off    the bare route on a second bin/portcullis run with --audit=false
#
# Everything listens on 127.0.0.1 on free ports; every process started here is stopped
# on exit (success, failure or Ctrl-C). The table is printed and appended to
# bench/RESULTS.md. See bench/README.md for how to read it and how to add a row.
#
# Settings (environment):
#   DURATION=10s     measured wrk run per target and round
#   WARMUP=3s        wrk warm-up before each measured run (its figures are discarded)
#   ROUNDS=1         rounds; targets alternate within a round and the median is reported
#   CONNECTIONS=32   THREADS=2   wrk settings (keep the defaults to compare with old rows)
#   RESULTS=bench/RESULTS.md     where the Markdown table is appended
#   AI_REQUESTS=5000             requests per target of the AI latency rows (bench/ailatency)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."   # the repository root, wherever we are called from
ROOT=$PWD

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
ROUNDS=${ROUNDS:-1}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
RESULTS=${RESULTS:-bench/RESULTS.md}
REFERENCE="nginx proxy"          # the row every ratio is relative to

BIN=${PORTCULLIS_BIN:-$ROOT/bin/portcullis}   # override to measure another build
OUT=$ROOT/bench/out              # git-ignored; `make clean` removes it

# ---------------------------------------------------------------------------------
# What is measured: one line per row of the table, in this order. Called once the ports
# are known ($BACKEND_PORT, $NGINX_PORT, $PORTCULLIS_PORT; $RUN_DIR for generated files).
#
#   target NAME URL [HEADER...]        a row: wrk to URL (http(s)://127.0.0.1:PORT/...)
#   portcullis_route NAME PATH [ROUTE_YAML] [HEADER...]
#       a route `match: {pathPrefix: PATH}, to: backend` on the one Portcullis process,
#       plus ROUTE_YAML (its policies, one "key: value" per line), and a row that sends
#       wrk to PATH there with the given request headers ("X-API-Key: ...").
#   portcullis_manifest YAML           one more manifest document (AuthProvider, Consumer, ...)
#   take_port VAR; portcullis_listener NAME $VAR [YAML...]   one more listener (HTTPS, ...)
# bench/README.md has worked examples (API key, rate limit, WAF, TLS).
# ---------------------------------------------------------------------------------
declare_targets() {
    target "direct" "http://127.0.0.1:$BACKEND_PORT/"
    target "nginx proxy" "http://127.0.0.1:$NGINX_PORT/"
    portcullis_route "portcullis bare" /
    # The same route on a second Portcullis process started with --audit=false: the
    # difference between the two rows is what the audit trail costs.
    target "portcullis bare, audit off" "http://127.0.0.1:$NOAUDIT_PORT/"

    # API key + roles: a Consumer whose key is declared by its SHA-256, sent by wrk.
    local key=bench-key-0123456789
    portcullis_manifest <<EOF
apiVersion: gateway/v1
kind: Consumer
metadata: {name: bench}
spec: {roles: [bench], apiKeys: [{id: bench, sha256: $(printf %s "$key" | sha256sum | cut -d' ' -f1)}]}
EOF
    portcullis_route "portcullis apikey" /apikey "authentication: {type: apiKey}
authorization: {roles: [bench]}" "X-API-Key: $key"
    # API key + a rate limit high enough never to refuse wrk: the cost of the check.
    portcullis_route "portcullis apikey+ratelimit" /limited "authentication: {type: apiKey}
rateLimit: {requests: 100000000, interval: 1s}" "X-API-Key: $key"

    # JWT (RS256): a key made here, its JWKS served by the backend nginx at
    # /jwks.json, and one token signed with openssl that wrk sends.
    local jwt
    jwt=$(make_jwt "$RUN_DIR")
    portcullis_manifest <<EOF
apiVersion: gateway/v1
kind: AuthProvider
metadata: {name: bench-idp}
spec: {type: jwt, issuer: "https://bench.invalid/", jwksURL: "http://127.0.0.1:$BACKEND_PORT/jwks.json", audiences: [bench]}
EOF
    portcullis_route "portcullis jwt" /jwt "authentication: {type: jwt, provider: bench-idp}" "Authorization: Bearer $jwt"

    # The WAF (Coraza + OWASP CRS v4, paranoia level 1, block mode) on a benign
    # GET with a query, beside the same route with the WAF off.
    portcullis_route "portcullis waf off" /waf-off "waf: {mode: off}"
    portcullis_route "portcullis waf" /waf "waf: {mode: block}"

    # TLS (HTTP/1.1 over TLS 1.3, keep-alive: the handshake once per connection, then the
    # record layer): nginx with the same certificate in front of the same backend, and an
    # HTTPS listener on Portcullis serving the bare route.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
        -keyout "$RUN_DIR/key.pem" -out "$RUN_DIR/cert.pem" 2>/dev/null
    target "nginx proxy tls" "https://127.0.0.1:$NGINX_TLS_PORT/"
    take_port PC_TLS_PORT
    portcullis_listener tls "$PC_TLS_PORT" "protocol: HTTPS" "tls: {certFile: $RUN_DIR/cert.pem, keyFile: $RUN_DIR/key.pem}"
    target "portcullis bare tls" "https://127.0.0.1:$PC_TLS_PORT/"
}

# b64url: standard input as unpadded base64url.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# make_jwt DIR: writes DIR/jwks.json (a fresh RSA key's public half) and prints
# an RS256 token for aud "bench", valid for a day.
make_jwt() {
    local dir=$1 n header payload sig
    openssl genrsa -out "$dir/jwt.pem" 2048 2>/dev/null
    n=$(openssl rsa -in "$dir/jwt.pem" -noout -modulus | cut -d= -f2 | perl -ne 'chomp; print pack("H*", $_)' | b64url)
    printf '{"keys":[{"kty":"RSA","kid":"bench","alg":"RS256","use":"sig","n":"%s","e":"AQAB"}]}' "$n" >"$dir/jwks.json"
    header=$(printf '{"alg":"RS256","kid":"bench","typ":"JWT"}' | b64url)
    payload=$(printf '{"sub":"bench","iss":"https://bench.invalid/","aud":"bench","exp":%d}' $(($(date +%s) + 86400)) | b64url)
    sig=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -sign "$dir/jwt.pem" -binary | b64url)
    printf '%s.%s.%s' "$header" "$payload" "$sig"
}

# ---------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# The binary is built by `make bench`; without it there is nothing to measure.
[[ -x $BIN ]] || die "${BIN#"$ROOT"/} not found or not executable: run \`make bench\` (it builds it) or \`make build\` first"

# wrk, nginx and curl come from Debian packages; install them when missing (as root).
find_nginx() { command -v nginx || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true; }
ensure_tools() {
    local pkgs=()
    command -v wrk >/dev/null || pkgs+=(wrk)
    [[ -n $(find_nginx) ]] || pkgs+=(NGINX)
    command -v curl >/dev/null || pkgs+=(curl)
    ((${#pkgs[@]})) || return 0
    [[ $(id -u) == 0 ]] || die "missing ${pkgs[*]/NGINX/nginx}: run as root: apt-get update && apt-get install -y wrk nginx-light curl"
    say "installing missing tools (${pkgs[*]/NGINX/nginx}):"
    echo "+ apt-get update" >&2
    apt-get update
    if [[ " ${pkgs[*]} " == *" NGINX "* ]]; then
        # nginx-light is enough (core + proxy); newer Debian releases only ship `nginx`.
        local nginx_pkg=nginx
        apt-cache show nginx-light >/dev/null 2>&1 && nginx_pkg=nginx-light
        pkgs=("${pkgs[@]/NGINX/$nginx_pkg}")
    fi
    echo "+ apt-get install -y ${pkgs[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}"
    if ! command -v wrk >/dev/null || [[ -z $(find_nginx) ]] || ! command -v curl >/dev/null; then
        die "wrk, nginx or curl still not found after apt-get install"
    fi
}
ensure_tools
NGINX=$(find_nginx)

# free_ports N: N distinct TCP ports that are free on 127.0.0.1 right now.
free_ports() {
    if command -v python3 >/dev/null; then
        # Bind all N sockets to port 0 at once (so they differ), print, release.
        python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
    else
        # No python3: try ports from a base, keeping those nothing answers on.
        local port=18400 found=()
        while ((${#found[@]} < $1)); do
            (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || found+=("$port")
            port=$((port + 1))
        done
        echo "${found[*]}"
    fi
}

# Processes we started: name → pid, stopped by cleanup in reverse order.
PROC_NAMES=() PROC_PIDS=()
remember() { PROC_NAMES+=("$1"); PROC_PIDS+=("$2"); }

# PORT_PIDS[PORT]: the pid of the server we started on PORT, for its CPU time.
declare -A PORT_PIDS

# cpu_ticks PORT: the CPU time (user + system, in clock ticks) used so far by the server
# on PORT and its children (nginx's workers); 0 when we did not start it.
cpu_ticks() {
    local pid=${PORT_PIDS[$1]:-} p total=0 ticks
    [[ -n $pid ]] || { echo 0; return; }
    for p in $pid $(pgrep -P "$pid" || true); do
        # Fields 14 and 15 of /proc/PID/stat, counted after the ")" that ends the name.
        ticks=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$p/stat" 2>/dev/null || echo 0)
        total=$((total + ticks))
    done
    echo "$total"
}

# stop NAME PID SECONDS: SIGTERM (nginx: fast shutdown; portcullis: drain and exit 0),
# then SIGKILL if it is still there after SECONDS.
stop() {
    local name=$1 pid=$2 i rc=0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < $3 * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name (pid $pid) ignored SIGTERM for $3 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    [[ $rc == 0 || $name != portcullis ]] || say "warning: portcullis exited with status $rc after SIGTERM (see bench/out/portcullis.log)"
}

RUN_DIR=""
exec {STDERR}>&2   # cleanup may run inside a redirection (wrk's output file): keep a way out
cleanup() {
    local rc=$?
    set +e
    trap - INT TERM
    exec 2>&"$STDERR"
    [[ $rc != 130 && $rc != 143 ]] || say "interrupted: stopping what was started"
    local i
    [[ -z ${WRK_PID:-} ]] || kill -TERM "$WRK_PID" 2>/dev/null
    for ((i = ${#PROC_PIDS[@]} - 1; i >= 0; i--)); do
        stop "${PROC_NAMES[i]}" "${PROC_PIDS[i]}" 15
    done
    if [[ -n $RUN_DIR && -d $RUN_DIR ]]; then
        if [[ $rc == 0 || $rc == 130 || $rc == 143 ]]; then   # success or interrupted
            rm -rf "$RUN_DIR"
        else
            say "failed (status $rc); nginx confs and logs kept in ${RUN_DIR#"$ROOT"/}, portcullis log in bench/out/portcullis.log"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_http NAME PID URL: until URL answers at all (any HTTP status), or fail if the
# process dies or 30 s pass.
wait_http() {
    local name=$1 pid=$2 url=$3 i
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || die "$name exited before answering on $url"
        [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true) != 000 ]] && return 0
        sleep 0.1
    done
    die "$name does not answer on $url after 30 s"
}

# ---------------------------------------------------------------------------------
# Targets and the Portcullis manifest they build up
# ---------------------------------------------------------------------------------
T_NAMES=() T_URLS=() T_HEADERS=()   # T_HEADERS[i]: request headers, newline-separated
PC_LISTENERS="" PC_ROUTES="" PC_DOCS=""

target() {
    local name=$1 url=$2
    shift 2
    [[ $url =~ ^https?://127\.0\.0\.1: ]] || die "target $name: only http(s)://127.0.0.1:PORT URLs are allowed ($url)"
    T_NAMES+=("$name")
    T_URLS+=("$url")
    local IFS=$'\n'
    T_HEADERS+=("$*")
}

portcullis_route() {
    local name=$1 path=$2 extra=${3:-}
    shift $(($# < 3 ? $# : 3))
    local route_name line
    # The route's name (in access log, metrics, audit): "portcullis apikey" → "apikey".
    route_name=$(tr -cs 'a-zA-Z0-9' '-' <<<"${name#portcullis }" | sed 's/^-*//; s/-*$//' | tr '[:upper:]' '[:lower:]')
    PC_ROUTES+="    - name: $route_name"$'\n'
    PC_ROUTES+="      match: {pathPrefix: $path}"$'\n'
    PC_ROUTES+="      to: backend"$'\n'
    while IFS= read -r line; do
        [[ -n $line ]] && PC_ROUTES+="      $line"$'\n'
    done <<<"$extra"
    target "$name" "http://127.0.0.1:$PORTCULLIS_PORT$path" "$@"
}

portcullis_manifest() { PC_DOCS+=$'---\n'"${1-$(cat)}"$'\n'; }   # YAML as argument or on stdin

# portcullis_listener NAME PORT [YAML...]: one more listener on 127.0.0.1:PORT (take the
# port with take_port); the extra YAML ("protocol: HTTPS", "tls: {...}") goes in as is.
# Gateway-wide routes (every portcullis_route) are served on every listener.
portcullis_listener() {
    local name=$1 port=$2 line
    shift 2
    PC_LISTENERS+="    - name: $name"$'\n'"      address: 127.0.0.1"$'\n'"      port: $port"$'\n'
    for line in "$@"; do PC_LISTENERS+="      $line"$'\n'; done
}

# take_port VAR: set VAR to a free port not handed out before.
take_port() {
    ((${#PORT_POOL[@]})) || die "out of free ports: raise the count given to free_ports"
    printf -v "$1" '%s' "${PORT_POOL[0]}"
    PORT_POOL=("${PORT_POOL[@]:1}")
}

# ---------------------------------------------------------------------------------
# Set up
# ---------------------------------------------------------------------------------
mkdir -p "$OUT"
RUN_DIR=$(mktemp -d "$OUT/run.XXXXXX")
chmod 755 "$RUN_DIR"   # nginx workers run as nobody when we are root
rm -rf "$OUT/wrk" "$OUT/access.log" "$OUT"/portcullis.db* "$OUT"/portcullis-noaudit.db*   # a fresh store and log each run
mkdir -p "$OUT/wrk"

read -ra PORT_POOL <<<"$(free_ports 16)"
take_port BACKEND_PORT
take_port NGINX_PORT
take_port PORTCULLIS_PORT
take_port ADMIN_PORT
take_port NOAUDIT_PORT
take_port NOAUDIT_ADMIN_PORT
take_port NGINX_TLS_PORT
take_port NOAUDIT_TLS_PORT
portcullis_listener bench "$PORTCULLIS_PORT"
declare_targets

# nginx's temp paths default to /var/lib/nginx; keep a private instance's files private
# (only for the modules this build has, or nginx refuses the directive).
nginx_temp_paths() {
    local dir=$1 m
    echo "client_body_temp_path $dir/body;"
    for m in proxy fastcgi uwsgi scgi; do
        "$NGINX" -V 2>&1 | grep -q -- "--without-http_${m}_module" || echo "${m}_temp_path $dir/$m;"
    done
}

# start_nginx NAME WORKERS PORT HTTP_BODY: a private nginx (own prefix, conf, pid and
# logs under RUN_DIR), in the foreground of a background job so its pid is ours.
start_nginx() {
    local name=$1 workers=$2 port=$3 body=$4
    local dir=$RUN_DIR/$name
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<EOF
# generated by bench/run.sh: private $name instance
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    # nginx closes a keep-alive connection after 1000 requests by default; Go never does.
    keepalive_requests 1000000;
$(nginx_temp_paths "$dir" | sed 's/^/    /')
$body
}
EOF
    say "starting $name nginx ($workers worker(s)) on 127.0.0.1:$port"
    # daemon off: the master stays our child, so $! is its pid (the one in nginx.pid too).
    "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' &
    remember "$name nginx" $!
    PORT_PIDS[$port]=$!
    if ! (wait_http "$name nginx" $! "http://127.0.0.1:$port/"); then
        tail -n 20 "$dir/error.log" >&2
        exit 1
    fi
}

start_nginx backend 1 "$BACKEND_PORT" "
    server {
        listen 127.0.0.1:$BACKEND_PORT;
        location / {
            default_type text/plain;
            return 200 \"ok\\n\";
        }
        location = /jwks.json {
            default_type application/json;
            alias $RUN_DIR/jwks.json;
        }
    }"

start_nginx proxy 2 "$NGINX_PORT" "
    upstream backend {
        server 127.0.0.1:$BACKEND_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        listen 127.0.0.1:$NGINX_TLS_PORT ssl;
        ssl_certificate $RUN_DIR/cert.pem;
        ssl_certificate_key $RUN_DIR/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }"
PORT_PIDS[$NGINX_TLS_PORT]=${PORT_PIDS[$NGINX_PORT]}   # the same nginx serves both

# Portcullis: one listener, the routes declared above, a Service for the backend.
# The access log stays on (the default) but goes to a file, not to our terminal.
MANIFEST=$RUN_DIR/portcullis.yaml
cat >"$MANIFEST" <<EOF
# generated by bench/run.sh
apiVersion: gateway/v1
kind: Gateway
metadata: {name: bench}
spec:
  accessLog: {path: $OUT/access.log}
  listeners:
$PC_LISTENERS  routes:
$PC_ROUTES---
apiVersion: gateway/v1
kind: Service
metadata: {name: backend}
spec: {url: "http://127.0.0.1:$BACKEND_PORT"}
$PC_DOCS
EOF

say "starting portcullis on 127.0.0.1:$PORTCULLIS_PORT (admin 127.0.0.1:$ADMIN_PORT; log in bench/out/portcullis.log)"
PORTCULLIS_ADMIN_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n') \
    "$BIN" run --config "$MANIFEST" --admin "127.0.0.1:$ADMIN_PORT" --store "sqlite:$OUT/portcullis.db" \
    >"$OUT/portcullis.log" 2>&1 &
remember portcullis $!
PORT_PIDS[$PORTCULLIS_PORT]=$!
PORT_PIDS[$PC_TLS_PORT]=$!
if ! (wait_http portcullis $! "http://127.0.0.1:$PORTCULLIS_PORT/"); then
    tail -n 20 "$OUT/portcullis.log" >&2
    exit 1
fi

say "starting portcullis --audit=false on 127.0.0.1:$NOAUDIT_PORT (log in bench/out/portcullis-noaudit.log)"
PORTCULLIS_ADMIN_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n') \
    "$BIN" run --config "$MANIFEST" --listen "bench=127.0.0.1:$NOAUDIT_PORT" --listen "tls=127.0.0.1:$NOAUDIT_TLS_PORT" --admin "127.0.0.1:$NOAUDIT_ADMIN_PORT" \
    --store "sqlite:$OUT/portcullis-noaudit.db" --audit=false >"$OUT/portcullis-noaudit.log" 2>&1 &
remember "portcullis --audit=false" $!
PORT_PIDS[$NOAUDIT_PORT]=$!
if ! (wait_http "portcullis --audit=false" $! "http://127.0.0.1:$NOAUDIT_PORT/"); then
    tail -n 20 "$OUT/portcullis-noaudit.log" >&2
    exit 1
fi

# One request per target before measuring: say now if a target answers an error (the
# run goes on, and the wrk run below marks the row invalid).
for i in "${!T_NAMES[@]}"; do
    args=()
    while IFS= read -r h; do [[ -n $h ]] && args+=(-H "$h"); done <<<"${T_HEADERS[i]}"
    status=$(curl -sk -o "$RUN_DIR/check.body" -w '%{http_code}' --max-time 5 "${args[@]}" "${T_URLS[i]}" || true)
    [[ $status == 2?? ]] || say "warning: ${T_NAMES[i]} answers $status: $(head -c 200 "$RUN_DIR/check.body" 2>/dev/null | tr '\n' ' ')"
done

# ---------------------------------------------------------------------------------
# Measure
# ---------------------------------------------------------------------------------
# parse_wrk FILE → "rps p50_us p99_us non2xx socket_errors requests"
parse_wrk() {
    awk '
        function us(v) {   # wrk prints 412.00us, 1.23ms, 2.00s, 1.00m
            if (v ~ /us$/) return v + 0
            if (v ~ /ms$/) return v * 1000
            if (v ~ /s$/)  return v * 1000000
            if (v ~ /m$/)  return v * 60000000
            return v + 0
        }
        /^ +50% /                     { p50 = us($2) }
        /^ +99% /                     { p99 = us($2) }
        /^Requests\/sec:/             { rps = $2 }
        / requests in /               { reqs = $1 }
        /Non-2xx or 3xx responses:/   { bad = $NF }
        /Socket errors:/              { gsub(",", ""); err = $4 + $6 + $8 + $10 }
        END { printf "%s %s %s %d %d %d\n", rps + 0, p50 + 0, p99 + 0, bad, err, reqs }
    ' "$1"
}

# run_wrk ARGS...: wrk as a background job we wait for. In the foreground, Ctrl-C would
# not stop this script: wrk catches SIGINT and exits 0, and bash then ignores the signal.
WRK_PID=""
run_wrk() {
    local rc=0
    wrk "$@" &
    WRK_PID=$!
    wait "$WRK_PID" || rc=$?
    WRK_PID=""
    return "$rc"
}

declare -A RPS P50 P99 CPU NOTE   # [target index] → space-separated values, one per round
CLK_TCK=$(getconf CLK_TCK)
n=${#T_NAMES[@]}

# Everything here shares 2 cores with wrk: other work on the machine skews the figures.
LOAD=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")
if awk -v l="$LOAD" -v c="$(nproc)" 'BEGIN {exit !(l + 0 > c / 2)}'; then
    say "warning: load average is $LOAD on $(nproc) cores before measuring: the figures will be low and noisy"
fi
say "measuring ${n} targets: wrk -t$THREADS -c$CONNECTIONS, $WARMUP warm-up + $DURATION each, $ROUNDS round(s)"
for ((round = 1; round <= ROUNDS; round++)); do
    for ((k = 0; k < n; k++)); do
        i=$(((k + round - 1) % n))   # rotate the order each round
        name=${T_NAMES[i]} url=${T_URLS[i]}
        args=(-t"$THREADS" -c"$CONNECTIONS")
        while IFS= read -r h; do [[ -n $h ]] && args+=(-H "$h"); done <<<"${T_HEADERS[i]}"
        file=$OUT/wrk/$(tr ' /' '__' <<<"$name").round$round.txt
        say "round $round/$ROUNDS: $name ($url)"
        # The access log grows by ~50 MB per Portcullis run: keep only the latest target's
        # (Portcullis appends, so truncating under it is safe).
        [[ ! -f $OUT/access.log ]] || : >"$OUT/access.log"
        run_wrk "${args[@]}" -d"$WARMUP" "$url" >/dev/null 2>&1 || true
        port=$(sed -E 's|^https?://127\.0\.0\.1:([0-9]+).*|\1|' <<<"$url")
        ticks0=$(cpu_ticks "$port")
        if ! run_wrk "${args[@]}" -d"$DURATION" --latency "$url" >"$file" 2>&1; then
            NOTE[$i]+="wrk failed (round $round); "
            say "wrk failed: $(head -c 300 "$file")"
            RPS[$i]+="0 " P50[$i]+="0 " P99[$i]+="0 " CPU[$i]+="0 "
            continue
        fi
        ticks=$(($(cpu_ticks "$port") - ticks0))
        read -r rps p50 p99 bad err reqs < <(parse_wrk "$file")
        RPS[$i]+="$rps " P50[$i]+="$p50 " P99[$i]+="$p99 "
        CPU[$i]+="$(awk -v t="$ticks" -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN {printf "%.1f", n ? t / hz * 1e6 / n : 0}') "
        ((bad == 0)) || NOTE[$i]+="$bad non-2xx responses (round $round); "
        ((err == 0)) || NOTE[$i]+="$err socket errors (round $round); "
        [[ $rps != 0 ]] || NOTE[$i]+="no responses (round $round); "
    done
done

# ---------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ms() { awk -v u="$1" 'BEGIN {printf "%.2f ms", u / 1000}'; }
thousands() { awk -v x="$1" 'BEGIN {s = sprintf("%.0f", x); while (s ~ /[0-9]{4}/) sub(/[0-9]{3}($|,)/, ",&", s); print s}'; }

# A row named "... tls" is compared with "$REFERENCE tls" (nginx with TLS), the others with
# $REFERENCE: the ratio always sets like against like.
ref_rps="" ref_tls_rps=""
for i in "${!T_NAMES[@]}"; do
    [[ ${T_NAMES[i]} == "$REFERENCE" && -z ${NOTE[$i]:-} ]] && ref_rps=$(median "${RPS[$i]}")
    [[ ${T_NAMES[i]} == "$REFERENCE tls" && -z ${NOTE[$i]:-} ]] && ref_tls_rps=$(median "${RPS[$i]}")
done

# Rows: target | requests/s | p50 | p99 | vs nginx proxy | CPU/request | notes
ROWS=()
for i in "${!T_NAMES[@]}"; do
    rps=$(median "${RPS[$i]}")
    ratio="—"
    ref=$ref_rps
    [[ ${T_NAMES[i]} == *" tls" ]] && ref=$ref_tls_rps
    [[ -z ${NOTE[$i]:-} && -n $ref ]] && ratio=$(awk -v a="$rps" -v b="$ref" 'BEGIN {printf "%.2f", a / b}')
    note=${NOTE[$i]:-}
    [[ -z $note ]] || note="INVALID: ${note%; }"
    ROWS+=("${T_NAMES[i]}|$(thousands "$rps")|$(ms "$(median "${P50[$i]}")")|$(ms "$(median "${P99[$i]}")")|$ratio|$(median "${CPU[$i]}") µs|$note")
done

commit=$(git rev-parse --short HEAD 2>/dev/null || echo "no-commit")
# Dirty = the tree differs from the commit (earlier results appended to bench/RESULTS.md
# don't count: they change nothing that is measured).
[[ -z $(git status --porcelain -- . ':(exclude)bench/RESULTS.md' 2>/dev/null) ]] || commit+="-dirty"
cpu=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null)
wrk_version=$({ wrk -v 2>&1 || true; } | awk 'NR == 1 {sub(/^debian\//, "", $2); print $2}')
nginx_version=$("$NGINX" -v 2>&1 | sed 's|.*nginx/||')
go_version=$({ go version "$BIN" 2>/dev/null || true; } | awk '{print $2}')
when=$(date -u '+%Y-%m-%d %H:%M UTC')
rounds_text="1 round"
((ROUNDS == 1)) || rounds_text="$ROUNDS rounds, median"

echo
printf '%-28s %12s %10s %10s %15s %12s  %s\n' target requests/s p50 p99 "vs $REFERENCE" CPU/request notes
for row in "${ROWS[@]}"; do
    IFS='|' read -r name rps p50 p99 ratio cpu_req note <<<"$row"
    printf '%-28s %12s %10s %10s %15s %12s  %s\n' "$name" "$rps" "$p50" "$p99" "$ratio" "$cpu_req" "$note"
done
echo
echo "($when, commit $commit, $(nproc) cores, load $LOAD, wrk -t$THREADS -c$CONNECTIONS, $WARMUP warm-up + $DURATION, $rounds_text; raw wrk output in bench/out/wrk/)"

if [[ ! -f $RESULTS ]]; then
    cat >"$RESULTS" <<'EOF'
# Benchmark results

Appended by `make bench` (bench/run.sh), newest last; bench/README.md says what is measured
and how. Each section is one run on one machine. **Compare rows only within one section**:
the same setup moves ±20% from run to run on a shared 2-core machine.

- **requests/s**: wrk's completed requests per second (higher is better).
- **p50 / p99**: wrk's latency percentiles at that load (32 connections kept busy), so they
  rise with queueing; they are not the latency of an idle gateway.
- **vs nginx proxy**: requests/s divided by the nginx reverse proxy's in the same run; 1.00 is
  as fast as nginx, and *direct* (wrk straight to the backend) is the ceiling for any proxy.
- **CPU/request**: the CPU time (user + system) the target's own processes used during the
  measured run, divided by its requests: for *direct* the backend nginx, for *nginx proxy*
  the proxy nginx, for a Portcullis row that Portcullis process (not the backend or wrk).
  It moves far less than requests/s on a shared machine, so it is the figure to compare
  when two rows differ by a few percent.
- A row marked **INVALID** saw error responses, socket errors or no responses: it measured
  failures, not the gateway, and has no ratio.
EOF
fi
{
    echo
    echo "## $when — commit $commit"
    echo
    echo "Machine: $(nproc) cores, ${cpu:-unknown CPU}, load average $LOAD at start. wrk $wrk_version, $THREADS threads, $CONNECTIONS connections,"
    echo "$WARMUP warm-up + $DURATION measured per target, $rounds_text. nginx $nginx_version; portcullis built with ${go_version:-unknown Go}."
    echo
    echo "| target | requests/s | p50 | p99 | vs $REFERENCE | CPU/request | notes |"
    echo "|---|--:|--:|--:|--:|--:|---|"
    for row in "${ROWS[@]}"; do
        echo "| ${row//|/ | } |"
    done
} >>"$RESULTS"

# The AI gateway's added latency on a chat completion: one request at a time against a
# fake OpenAI server, directly and through Portcullis (bench/ailatency).
say "AI gateway: added latency on a chat completion (bench/ailatency)"
AI_ROWS=$(go run ./bench/ailatency -bin "$BIN" -n "${AI_REQUESTS:-5000}"; go run ./bench/ailatency -bin "$BIN" -n "${AI_REQUESTS:-5000}" -stream)
echo
echo "$AI_ROWS"
{
    echo
    echo "AI gateway, one request at a time (${AI_REQUESTS:-5000} each, alternating):"
    echo
    echo "| call | p50 | p99 | added |"
    echo "|---|--:|--:|--:|"
    echo "$AI_ROWS"
} >>"$RESULTS"
say "appended to $RESULTS"
