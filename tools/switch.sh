# Sourced by the scripts under tools/: starting the switch for a run.

# start_switch BIN LOG PORT [SERVE_ARGUMENT...]: starts `BIN/antaca serve` (with the further
# arguments, e.g. --config PATH) in the background with its output in LOG (its pid in $switch), then
# waits until its ISO 8583 listener on 127.0.0.1:PORT accepts a connection. Fails if the switch exits
# first or does not listen within 30 s.
start_switch() {
    local bin=$1 log=$2 port=$3
    shift 3
    "$bin/antaca" serve "$@" > "$log" 2>&1 &
    switch=$!
    for _ in $(seq 1 150); do
        (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
        if ! kill -0 "$switch" 2>/dev/null; then
            echo "the switch exited; see $log" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "the switch did not listen on 127.0.0.1:$port within 30 s; see $log" >&2
    return 1
}
