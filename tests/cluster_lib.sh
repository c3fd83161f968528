# Shared by the cluster's shell tests (cluster, cluster_r3, gateway): a
# temporary folder, the processes started (pids+=(PID)), killed and the
# folder removed however the test ends (KEEP=1 keeps the folder), and
# check / run / free_port / free_ports / serve_at. Source it after setting billsim.
# Defines tmp, pids, out and err, and counts pass and fail.
pass=0 fail=0
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM  # (the EXIT trap then stops the servers)
out=$tmp/out err=$tmp/err

check() {  # check NAME CONDITION...: counts it; on failure shows $out and $err
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $name" >&2
    echo "--- stdout" >&2; head -c 4000 "$out" >&2; echo "--- stderr" >&2; tail -20 "$err" >&2; fi
}
run() { "$billsim" "$@" >"$out" 2>"$err"; echo $?; }  # its exit code; output in $out, $err
free_port() { free_ports 1; }
free_ports() {  # free_ports N: N distinct free loopback ports, one a line
  python3 -c '
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held: s.bind(("127.0.0.1", 0))
for s in held: print(s.getsockname()[1])' "$1"
}

# serve_at NAME SERVE-OPTIONS...: `billsim serve` on a free loopback port,
# output in $tmp/NAME.out and .err; waits for its "listening on" line and
# sets $addr (empty if it never came).
serve_at() {
  local name=$1; shift
  "$billsim" serve "$@" --listen 127.0.0.1:0 >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!)
  addr=
  for _ in $(seq 600); do
    addr=$(awk '/^listening on/ {print $3}' "$tmp/$name.out")
    [ -n "$addr" ] && break
    sleep 0.1
  done
}
