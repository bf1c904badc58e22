# Runs the chart's pods as processes beside the control plane, which has no
# kubelet: each container's own args (read from its Deployment, so the chart's
# flags meet the real binary), its service account's token and RBAC, and its
# Secret volumes kept in files the way the kubelet keeps them (rewritten
# atomically when the Secret changes). Sourced after lib.sh, with
#   CHART_NS    the release namespace
#   CHART_WORK  a directory for files, pid files and logs
#   EXECGOV     the execgov binary
#
#   chart_sa_kubeconfig SA FILE      a kubeconfig acting as the service account SA
#   chart_sync_secret SECRET DIR     keep DIR/<key> equal to each key of SECRET
#                                    (a background loop, 0.2 s period)
#   chart_run DEPLOYMENT NAME ARGS.. start the Deployment's container as NAME:
#                                    its args, with --kubeconfig for its service
#                                    account, paths and listen addresses taken
#                                    from ARGS (--flag=value replaces the flag),
#                                    the webhook's ledger forwarding on a free
#                                    loopback port, $(POD_IP) 127.0.0.1
#   chart_stop NAME                  SIGTERM, wait (SIGKILL after 10 s)
#   chart_stop_all                   every process started here (for traps)

chart_sa_kubeconfig() {
  kubectl config view --raw --minify >"$2"
  kubectl --kubeconfig "$2" config set-credentials "$1" \
    --token="$(kubectl -n "$CHART_NS" create token "$1" --duration=2h)" >/dev/null
  kubectl --kubeconfig "$2" config set-context --current --user="$1" >/dev/null
  chmod 600 "$2"
}

chart_sync_secret() {
  local secret=$1 dir=$2
  mkdir -p "$dir"
  (
    while true; do
      if kubectl -n "$CHART_NS" get secret "$secret" -o json >"$dir/.secret.json" 2>/dev/null; then
        python3 - "$dir" <<'PY'
import base64, json, os, sys
d = sys.argv[1]
for k, v in json.load(open(os.path.join(d, ".secret.json"))).get("data", {}).items():
    data = base64.b64decode(v)
    path = os.path.join(d, k)
    try:
        if open(path, "rb").read() == data:
            continue
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(data)
    os.rename(tmp, path)
PY
      fi
      sleep 0.2
    done
  ) >/dev/null 2>&1 &
  echo $! >>"$CHART_WORK/.pids"
}

chart_run() {
  local deployment=$1 name=$2
  shift 2
  local sa
  sa=$(kubectl -n "$CHART_NS" get deployment "$deployment" -o jsonpath='{.spec.template.spec.serviceAccountName}')
  chart_sa_kubeconfig "$sa" "$CHART_WORK/$name.kubeconfig"
  local args=() forward_port
  # A port of its own on loopback for what the chart listens on for its
  # peers (the webhook's ledger forwarding), which a Pod has on its own IP.
  forward_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mapfile -t args < <(kubectl -n "$CHART_NS" get deployment "$deployment" -o json | python3 -c '
import json, sys
overrides = dict(a.split("=", 1) for a in sys.argv[1:])
container = json.load(sys.stdin)["spec"]["template"]["spec"]["containers"][0]
for a in container["args"]:
    flag = a.split("=", 1)[0]
    if flag in overrides:
        continue
    if flag in ("--ledger-forward-listen", "--ledger-forward-address"):
        print(flag + "=127.0.0.1:" + overrides["FORWARD_PORT"])
        continue
    print(a.replace("$(POD_NAME)", overrides.get("POD_NAME", "local")).replace("$(POD_IP)", "127.0.0.1"))
for flag, value in overrides.items():
    if flag.startswith("--"):
        print(flag + "=" + value)
' "$@" "FORWARD_PORT=$forward_port" "--kubeconfig=$CHART_WORK/$name.kubeconfig")
  "$EXECGOV" "${args[@]}" >"$CHART_WORK/$name.log" 2>&1 &
  echo $! >"$CHART_WORK/.$name.pid"
  echo $! >>"$CHART_WORK/.pids"
}

chart_stop() {
  local pid i
  pid=$(cat "$CHART_WORK/.$1.pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$CHART_WORK/.$1.pid"
}

chart_stop_all() {
  local pid
  [ -f "$CHART_WORK/.pids" ] || return 0
  while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$CHART_WORK/.pids"
  while read -r pid; do
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done <"$CHART_WORK/.pids"
  rm -f "$CHART_WORK/.pids"
}
