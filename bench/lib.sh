# Helpers the bench scripts share; sourced (`. bench/lib.sh`) after each
# script's `cd` to the project root. Defines functions only.

# A free TCP port on 127.0.0.1 (the kernel's pick; free when printed).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to 10 s until something accepts on 127.0.0.1:PORT, or exits.
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$1" >&2
    exit 1
}

# Seconds since the epoch, to the nanosecond.
now() { date +%s.%N; }

# dnsmasq in the foreground on 127.0.0.1:PORT, authoritative for the zones
# mailscore asks about while the bench sender (x.example, at 127.0.0.1)
# sends: its SPF, DMARC, MX and the MX's address; every other name
# NXDOMAIN with an SOA, so DNSBL and posture lookups get real, cacheable
# negative answers ("warm DNS"); --local answers would carry none, and
# every message would ask again. Started in the background: `$!` after the
# call is dnsmasq's pid.
bench_dns() {
    dnsmasq --keep-in-foreground --port="$1" --listen-address=127.0.0.1 \
        --bind-interfaces --no-resolv --no-hosts --user=root --pid-file= \
        --local-ttl=3600 --auth-ttl=3600 --auth-server=ns.bench,127.0.0.1 \
        --auth-zone=example --auth-zone=org --auth-zone=net --auth-zone=com \
        --txt-record=x.example,"v=spf1 ip4:127.0.0.1 -all" \
        --txt-record=_dmarc.x.example,"v=DMARC1; p=reject; rua=mailto:d@x.example" \
        --mx-host=x.example,mail.x.example,10 \
        --host-record=mail.x.example,127.0.0.1 \
        --txt-record=mail.x.example,"v=spf1 a -all" &
}

# Writes FILE, a wrk script that asks for PATH_FORMAT (env, a printf format
# with one %d) with a random number from 1 to COUNT (env) each request.
wrk_random_script() {
    cat >"$1" <<'LUA'
local count, path = tonumber(os.getenv("COUNT")), os.getenv("PATH_FORMAT")
math.randomseed(os.time())
request = function()
    return wrk.format("GET", string.format(path, math.random(1, count)))
end
LUA
}
