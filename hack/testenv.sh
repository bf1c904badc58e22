#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for tests: etcd, kube-apiserver and
# kube-controller-manager, built by hack/controlplane/build.sh. No scheduler and
# no kubelet: Pods stay Pending, because admission is what the tests exercise.
#
#   hack/testenv.sh start     start it; prints `export ...` lines (eval them)
#   hack/testenv.sh env       print those lines again
#   hack/testenv.sh status    say whether it runs (exit 0) or not (exit 3)
#   hack/testenv.sh stop      stop every process it started, remove its directory
#   hack/testenv.sh restart-apiserver
#                             stop kube-apiserver and start it again, same flags
#                             and port (fault tests: watches must recover)
#
# Environment:
#   EXECGOV_TESTENV_DIR   state directory: certificates, kubeconfig, etcd data,
#                         logs, pid files (default ${TMPDIR:-/tmp}/execgov-testenv-$UID).
#                         One instance per directory; instances in different
#                         directories are independent.
#   EXECGOV_CONTROLPLANE_BIN  the binaries (default: what build.sh builds; start
#                         runs build.sh when they are missing)
#   EXECGOV_TESTENV_LOGS  if set, stop copies the component logs there first
#   EXECGOV_TESTENV_TIMEOUT  seconds each component may take to become ready (180)
#
# Every server listens on 127.0.0.1 on ports free at start; nothing needs root
# or any network beyond loopback. Each component runs in its own session
# (setsid), so stop ends it together with anything it spawned.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=${EXECGOV_TESTENV_DIR:-${TMPDIR:-/tmp}/execgov-testenv-$(id -u)}
timeout=${EXECGOV_TESTENV_TIMEOUT:-180}
components=(etcd kube-apiserver kube-controller-manager)

log() { echo "testenv: $*" >&2; }
die() { log "$*"; exit 1; }

# A pid file names a live process of ours if /proc says it runs the binary that
# was started (pids are reused; a rebuilt binary shows as "(deleted)").
alive() {
  local name=$1 pid exe
  pid=$(cat "$dir/$name.pid" 2>/dev/null) || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [ "${exe% (deleted)}" = "$(cat "$dir/$name.exe")" ]
}

running() {
  local c starter
  # A start still in progress counts: its components may not be up yet.
  starter=$(cat "$dir/start.pid" 2>/dev/null) && kill -0 "$starter" 2>/dev/null && return 0
  for c in "${components[@]}"; do alive "$c" && return 0; done
  return 1
}

# signal_groups SIGNAL TENTHS PGID...: signals each process group, then waits
# up to TENTHS tenths of a second until all are gone.
signal_groups() {
  local signal=$1 tenths=$2 p i left
  shift 2
  for p in "$@"; do kill "-$signal" -- "-$p" 2>/dev/null || true; done
  for ((i = 0; i < tenths; i++)); do
    left=0
    for p in "$@"; do kill -0 -- "-$p" 2>/dev/null && left=1; done
    [ $left = 0 ] && return 0
    sleep 0.1
  done
  return 1
}

# Stops every live component with everything it spawned: each leads its own
# session and process group. SIGTERM, then SIGKILL after 15s; etcd last, since
# kube-apiserver's shutdown stalls without it.
stop_components() {
  local group c pids
  for group in "kube-controller-manager kube-apiserver" etcd; do
    pids=()
    for c in $group; do
      alive "$c" && pids+=("$(cat "$dir/$c.pid")")
    done
    [ ${#pids[@]} -gt 0 ] || continue
    signal_groups TERM 150 "${pids[@]}" && continue
    log "still running 15s after SIGTERM; killing process groups ${pids[*]}"
    signal_groups KILL 50 "${pids[@]}" || die "could not stop process groups ${pids[*]}"
  done
}

cmd_stop() {
  [ -d "$dir" ] || return 0
  stop_components
  if [ -n "${EXECGOV_TESTENV_LOGS:-}" ] && compgen -G "$dir/*.log" >/dev/null; then
    mkdir -p "$EXECGOV_TESTENV_LOGS"
    cp "$dir"/*.log "$EXECGOV_TESTENV_LOGS"/
  fi
  rm -rf "$dir"
}

# Stops kube-apiserver (SIGTERM, SIGKILL after 15s) and starts it again with
# the same flags and port, for tests of what survives an API server restart
# (watches resuming, clients retrying). Everything else keeps running.
cmd_restart_apiserver() {
  alive kube-apiserver || die "kube-apiserver is not running (state directory $dir)"
  [ -f "$dir/kube-apiserver.args" ] || die "no saved kube-apiserver flags in $dir (started by an older testenv.sh?)"
  local pid args
  pid=$(cat "$dir/kube-apiserver.pid")
  if ! signal_groups TERM 150 "$pid"; then
    signal_groups KILL 50 "$pid" || die "could not stop kube-apiserver (process group $pid)"
  fi
  mapfile -d '' args <"$dir/kube-apiserver.args"
  bin=$(dirname "$(cat "$dir/kube-apiserver.exe")")
  mv "$dir/kube-apiserver.log" "$dir/kube-apiserver.log.$(date +%s)" 2>/dev/null || true
  launch kube-apiserver "${args[@]}"
  wait_for kube-apiserver "ok /readyz" readyz
  log "kube-apiserver restarted (pid $(cat "$dir/kube-apiserver.pid"))"
}

cmd_env() {
  running || die "not running (state directory $dir)"
  [ -f "$dir/env" ] || die "still starting (state directory $dir)"
  cat "$dir/env"
}

cmd_status() {
  local c state=3
  if [ ! -d "$dir" ]; then
    echo "not running (no $dir)"
    return 3
  fi
  for c in "${components[@]}"; do
    if alive "$c"; then
      echo "$c: running, pid $(cat "$dir/$c.pid")"
      state=0
    else
      echo "$c: not running"
    fi
  done
  if [ "$state" = 0 ]; then
    echo "readyz: $(readyz || echo 'not ok')"
    echo "KUBECONFIG=$dir/kubeconfig"
  fi
  return "$state"
}

readyz() {
  curl -fsS --max-time 5 --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" \
    --key "$dir/pki/admin.key" "https://127.0.0.1:$(cat "$dir/apiserver.port")/readyz" 2>/dev/null
}

# Prints n ports that are free on 127.0.0.1 now (all bound at once, so distinct).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# cert NAME CN [O] [SAN] [CA]: a leaf key and certificate signed by pki/CA
# (default ca); a SAN makes it a serving certificate, else a client one.
cert() {
  local name=$1 cn=$2 org=${3:-} san=${4:-} ca=${5:-ca} usage subj
  usage=clientAuth
  [ -n "$san" ] && usage=serverAuth
  subj="/CN=$cn"
  [ -n "$org" ] && subj="/O=$org$subj"
  local args=(-addext "basicConstraints=critical,CA:FALSE"
    -addext "keyUsage=critical,digitalSignature,keyEncipherment"
    -addext "extendedKeyUsage=$usage")
  [ -n "$san" ] && args+=(-addext "subjectAltName=$san")
  openssl req -x509 -config "$dir/pki/openssl.cnf" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -keyout "$dir/pki/$name.key" -out "$dir/pki/$name.crt" -days 30 -subj "$subj" \
    -CA "$dir/pki/$ca.crt" -CAkey "$dir/pki/$ca.key" "${args[@]}" 2>/dev/null
}

ca() {
  openssl req -x509 -config "$dir/pki/openssl.cnf" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -keyout "$dir/pki/$1.key" -out "$dir/pki/$1.crt" -days 30 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

gen_pki() {
  mkdir -p "$dir/pki"
  printf '[req]\ndistinguished_name = dn\n[dn]\n' >"$dir/pki/openssl.cnf"
  ca ca execgov-testenv-ca
  ca front-proxy-ca execgov-testenv-front-proxy-ca
  cert apiserver kube-apiserver "" \
    "IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert admin execgov-testenv-admin system:masters
  cert controller-manager system:kube-controller-manager
  cert controller-manager-serving kube-controller-manager "" "IP:127.0.0.1,DNS:localhost"
  cert front-proxy-client front-proxy-client "" "" front-proxy-ca
  # Service-account tokens: the API server signs them, the controller manager too.
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/pki/sa.key" 2>/dev/null
  openssl pkey -in "$dir/pki/sa.key" -pubout -out "$dir/pki/sa.pub" 2>/dev/null
  chmod 600 "$dir"/pki/*.key
}

# kubeconfig FILE CERT: credentials embedded, so the file can be copied anywhere.
kubeconfig() {
  local b64='base64 -w0'
  cat >"$dir/$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: execgov-testenv
  cluster:
    server: https://127.0.0.1:$apiserver_port
    certificate-authority-data: $($b64 <"$dir/pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $($b64 <"$dir/pki/$2.crt")
    client-key-data: $($b64 <"$dir/pki/$2.key")
contexts:
- name: execgov-testenv
  context: {cluster: execgov-testenv, user: $2}
current-context: execgov-testenv
EOF
  chmod 600 "$dir/$1"
}

# launch NAME ARGS...: runs $bin/NAME in a new session, output to NAME.log.
launch() {
  local name=$1
  shift
  echo "$bin/$name" >"$dir/$name.exe"
  setsid "$bin/$name" "$@" </dev/null >"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
}

# wait_for NAME WHAT COMMAND...: polls COMMAND until it succeeds, NAME dies, or
# the timeout passes.
wait_for() {
  local name=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ! alive "$name"; then
      tail -n 30 "$dir/$name.log" >&2 || true
      die "$name exited before $what (log above; $dir/$name.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$dir/$name.log" >&2 || true
      die "$name: no $what within ${timeout}s (log above)"
    fi
    sleep 0.2
  done
}

cmd_start() {
  bin=${EXECGOV_CONTROLPLANE_BIN:-}
  if [ -z "$bin" ]; then
    bin=$(cd "$here/.." && pwd)/.cache/controlplane/bin
    [ -x "$bin/kube-controller-manager" ] || bin=$("$here/controlplane/build.sh")
  fi
  local b
  for b in etcd kube-apiserver kube-controller-manager kubectl; do
    [ -x "$bin/$b" ] || die "missing $bin/$b: run hack/controlplane/build.sh"
  done
  for b in openssl curl python3 setsid; do
    command -v "$b" >/dev/null || die "needs $b (hack/install-deps.sh installs it)"
  done

  mkdir -p "$(dirname "$dir")"
  if ! mkdir "$dir" 2>/dev/null; then
    if running; then
      die "already running in $dir (hack/testenv.sh status; stop it with hack/testenv.sh stop)"
    fi
    log "removing the remains of an earlier run in $dir"
    cmd_stop
    mkdir "$dir"
  fi
  chmod 700 "$dir"
  echo $$ >"$dir/start.pid"
  # From here on a failure stops whatever started and removes the directory.
  trap 'rc=$?; if [ $rc -ne 0 ]; then log "start failed; cleaning up"; cmd_stop; fi' EXIT
  trap 'exit 130' INT TERM HUP
  umask 077

  local etcd_port etcd_peer_port apiserver_port kcm_port
  read -r etcd_port etcd_peer_port apiserver_port kcm_port <<<"$(free_ports 4)"
  echo "$apiserver_port" >"$dir/apiserver.port"
  gen_pki

  launch etcd --name=testenv --data-dir="$dir/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster="testenv=http://127.0.0.1:$etcd_peer_port" \
    --unsafe-no-fsync --log-level=warn
  wait_for etcd "health" curl -fsS --max-time 2 "http://127.0.0.1:$etcd_port/health"

  local pki=$dir/pki
  local apiserver_args=(
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$apiserver_port" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --authorization-mode=RBAC \
    --enable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook,OwnerReferencesPermissionEnforcement \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --endpoint-reconciler-type=none \
    --requestheader-client-ca-file="$pki/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$pki/front-proxy-client.crt" --proxy-client-key-file="$pki/front-proxy-client.key"
  )
  # Kept for restart-apiserver, which starts it again the same way.
  printf '%s\0' "${apiserver_args[@]}" >"$dir/kube-apiserver.args"
  launch kube-apiserver "${apiserver_args[@]}"
  wait_for kube-apiserver "ok /readyz" readyz

  kubeconfig kubeconfig admin
  kubeconfig controller-manager.kubeconfig controller-manager
  # Each controller acts as its own service account (e.g. the Job controller is
  # system:serviceaccount:kube-system:job-controller), as in a real cluster.
  launch kube-controller-manager \
    --kubeconfig="$dir/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$dir/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$dir/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$kcm_port" \
    --tls-cert-file="$pki/controller-manager-serving.crt" \
    --tls-private-key-file="$pki/controller-manager-serving.key" \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --flex-volume-plugin-dir="$dir/flexvolume" \
    --leader-elect=false
  wait_for kube-controller-manager "ok /healthz" \
    curl -fsS --max-time 2 --cacert "$pki/ca.crt" "https://127.0.0.1:$kcm_port/healthz"
  # Pods need their namespace's default ServiceAccount, which the controller
  # manager creates: wait for it so a test's first Pod is not refused.
  wait_for kube-controller-manager "default ServiceAccount" \
    "$bin/kubectl" --kubeconfig="$dir/kubeconfig" get serviceaccount default -n default

  {
    printf 'export KUBECONFIG=%q\n' "$dir/kubeconfig"
    printf 'export EXECGOV_TESTENV_DIR=%q\n' "$dir"
    printf 'export EXECGOV_TESTENV_BIN=%q\n' "$bin"
    printf 'export EXECGOV_TESTENV_ETCD=%q\n' "http://127.0.0.1:$etcd_port"
    printf 'export PATH=%q:"$PATH"\n' "$bin"
  } >"$dir/env"
  trap - EXIT INT TERM HUP
  rm -f "$dir/start.pid"
  log "ready: kube-apiserver https://127.0.0.1:$apiserver_port, etcd http://127.0.0.1:$etcd_port ($dir)"
  cat "$dir/env"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  restart-apiserver) cmd_restart_apiserver ;;
  *)
    echo "usage: $0 start|stop|status|env|restart-apiserver" >&2
    exit 2
    ;;
esac
