#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets: the unit tests' inputs, the
shipped config, the real cloudflared captures (one file per scenario) and a
few hand-written edge cases.

    fuzz/seeds.py OUTDIR        -> OUTDIR/{request,scanner,config,envfile}/

`make fuzz-merge` runs it and folds the seeds, the committed corpus and what
`make fuzz` found into a minimal fuzz/corpus/<target>/ (libFuzzer -merge=1).
Standard library only.
"""
import hashlib
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        return f.read()


# --- control requests (test/unit/test_protocol.cpp, test_linesplit.cpp,
# agent/commands.cpp's verbs, README examples) -------------------------------
VERBS = [b"help", b"ping", b"version", b"start 8080", b"start drone-7 nowait", b"stop 8080",
         b"restart cam", b"list", b"status 8080", b"logs 8080 20", b"killall", b"watch",
         b"provision drone-7 service=http://localhost:8000 start", b"deprovision drone-7",
         b"metrics", b"reload", b"quit"]

REQUESTS = {
    "start-nowait": b"START 8080  nowait\n",
    "tabs-and-spaces": b" \tlogs\t 8080   20 \t\n",
    "args-keep-case": b"provision Drone-7 service=http://LOCALHOST:80\n",
    "blank-lines": b"\n   \t \n\r\n",
    "json-prefix": b"JSON list\njson status cam\n",
    "json-alone": b"json\n",
    "json-json": b"json json\n",
    "control-bytes": b"pi\x00ng\x01\x02\n\x7f\n",
    "utf8": b"start \xc3\xa9t\xc3\xa9\n",
    "invalid-utf8": b"start \xff\xfe\xc0\xaf \xed\xa0\x80\n",
    "status-lookalikes": b"OK fake\nERR fake\nok\nerr 1\n",
    "pipelined": b"ping\nlist\nstatus 8080\nlogs 8080 5\nquit\n",
    "crlf-pipelined": b"ping\r\nlist\r\nsta\rtus 8080\r\n",
    "cr-inside": b"a\rb\n",
    "no-final-newline": b"ping",
    "empty": b"",
    "exactly-4096": b"x" * 4096 + b"\n",
    "exactly-4096-crlf": b"s" * 4096 + b"\r\nping\n",
    "4097-then-ping": b"y" * 4097 + b"\nping\n",
    "overlong-words": b"start " + b"9" * 5000 + b"\nping\n",
    "overlong-unterminated": b"z" * 4500,
    "overlong-cr-edge": b"w" * 4096 + b"\r\r\n" + b"v" * 4095 + b"\r",
    "quotes-backslash": b"start 'it''s' \"q\" \\x41\n",
    "all-verbs": b"\n".join(VERBS) + b"\n",
    "json-all-verbs": b"\n".join(b"json " + v for v in VERBS) + b"\n",
}


# --- cloudflared lines: the captures split per scenario, the unit tests' lines
def scanner_seeds():
    out = {}
    for name in ("cloudflared-quick.log", "cloudflared-named.log"):
        scenario, lines = None, []
        for line in read("test/data/" + name).split(b"\n"):
            if line.startswith(b"# scenario: "):
                if scenario:
                    out[scenario.decode()] = b"\n".join(lines) + b"\n"
                scenario = line[12:].split(b" |")[0]
                lines = []
            elif scenario and not line.startswith(b"# "):
                lines.append(line)
        if scenario:
            out[scenario.decode()] = b"\n".join(lines).rstrip(b"\n") + b"\n"
    t = b"2026-11-22T04:25:02Z "
    out["unit-lines"] = b"\n".join([
        t + b"ERR no more connections active and exiting",
        b"failed to request quick Tunnel: Post \"https://api.trycloudflare.com/tunnel\": dial tcp: "
        b"lookup api.trycloudflare.com on 10.255.255.53:53: connect: network is unreachable",
        t + b"INF Version 2023.7.3",
        t + b"INF |  https://a-b-c.trycloudflare.com      |",
        t + b"INF |  https://api.trycloudflare.com  |",
        b"|  https://a-b-c.trycloudflare.com  |",
        t + b"ERR https://a-b-c.trycloudflare.com",
        t + b"INF https://a-b.trycloudflare.com.evil.example",
        t + b"INF Registered tunnel connection connIndex=3 connection=x event=0 ip=127.0.0.4 "
            b"location=lax01 protocol=quic",
        t + b"INF Lost connection with the edge connIndex=2",
        t + b"ERR Register tunnel error from server side error=\"Unauthorized: Invalid tunnel secret\" "
            b"connIndex=0 event=0 ip=127.0.0.1",
        t + b"WRN Serve tunnel error error=\"Unauthorized: Failed to get tunnel\"",
        t + b"INF Unauthorized is just a word here",
        b"",
    ]) + b"\n"
    out["edge-cases"] = b"\r\n".join([
        t + b"INF Registered tunnel connection connIndex=99999",
        t + b"INF Registered tunnel connection connIndex=12a connIndex=7",
        t + b"INF Unregistered tunnel connection connIndex=0001",
        t + b"INF Initiating graceful shutdown due to signal terminated ...",
        t + b"INF https://API.trycloudflare.com https://x-.trycloudflare.com",
        t + b"INF https://api.trycloudflare.com https://ok.trycloudflare.com/",
        t + b"??? odd level",
        t + b"PNC panic",
        t + b"FTL fatal",
        b"2026-11-22T04:25:02Z INF\tno",
        b"2026-11-22T04:25:02ZINF no",
        t + b"INF line\rwith a CR",
        t + b"INF nul\x00 https://n.trycloudflare.com",
    ]) + b"\r\n" + t + b"INF " + b"p" * 5000 + b"\n"
    return out


# --- tether.ini (conf/tether.ini, test/unit/test_config.cpp) ---------------------
def config_seeds():
    shipped = read("conf/tether.ini")
    # Every documented key with its default value, uncommented.
    uncommented = re.sub(rb"(?m)^;([a-z_]+ =)", rb"\1", shipped)
    every_key = (
        b"[agent]\nsocket = /tmp/t.sock\nsocket_mode = 0600\nstate_dir = /tmp/st\nlog_level = debug\n"
        b"pidfile = /tmp/t.pid\nallow_uids = 1000, root\nmax_clients = 8\n"
        b"[cloudflared]\npath = /usr/local/bin/cloudflared\nprotocol = http2\n"
        b"extra_args = --edge-ip-version 4  --region us\nmetrics = no\n"
        b"[watchdog]\nbackoff_initial_ms = 100\nbackoff_max_ms = 2000\nstable_after_s = 5\n"
        b"unhealthy_after_s = 0\nstop_grace_s = 3\nstart_wait_s = 7\nmax_restarts = 4\nrestart_window_s = 60\n"
        b"[cloudflare]\napi_base = http://127.0.0.1:9/client/v4\napi_token_env = CF_TOKEN\n"
        b"api_token_file = /etc/tether/api.token\naccount_id = 0123456789abcdef0123456789abcdef\n"
        b"zone = example.com\nenv_file = /tmp/t.env\nrequest_timeout_s = 3\n"
        b"[notify]\nwebhook = https://hooks.example.com/x\ntelegram_bot_token_env = NOTIFY_BOT\n"
        b"telegram_chat_id = -1001234\ntelegram_api_base = http://127.0.0.1:8/\n"
        b"[telegram]\nbot_token_env = BOT\nallowed_chat_ids = -100123, 42\nallowed_user_ids = 7\n"
        b"api_base = http://127.0.0.1:7\npoll_timeout_s = 2\n"
        b"[tunnel cam]\ntype = quick\nport = 8080\nautostart = yes\n"
        b"[tunnel drone-7]\nservice = http://localhost:8000\n")
    out = {
        "shipped-tether.ini": shipped,
        "shipped-uncommented": uncommented,
        "every-key": every_key,
        "every-key-crlf": every_key.replace(b"\n", b"\r\n"),
        "empty": b"",
        "comments-crlf-inline": b"; top\r\n# hash\r\n\r\n[agent]\r\nlog_level = warn ; inline\r\n",
        "unknown-section": b"[agent]\n\n[agnet]\nsocket = /x\n",
        "unknown-key": b"[watchdog]\nbackof_initial_ms = 5\n[tunnel a]\ntype = quick\nport = 1\ncolour = red\n",
        "bad-numbers": b"[watchdog]\nstop_grace_s = ten\nstart_wait_s = 5s\nmax_restarts = -1\n"
                       b"backoff_initial_ms = 99999999999999999999\n",
        "bad-enums": b"[agent]\nlog_level = loud\n[cloudflared]\nprotocol = udp\nmetrics = maybe\n"
                     b"[tunnel a]\ntype = fast\n",
        "ports": b"[tunnel web]\ntype = quick\nport = 70000\n[tunnel w2]\ntype = quick\nport = 0\n",
        "missing-keys": b"[agent]\n[tunnel web]\ntype = quick\n[telegram]\nbot_token_env = BOT\n",
        "syntax": b"[agent]\nthis is not a pair\n[agent\nlog_level = info\n",
        "overlong-line": b"[agent]\nsocket = /" + b"x" * 300 + b"\n",
        "line-198": b"[agent]\nsocket = /" + b"x" * 189 + b"\npidfile = /" + b"y" * 188 + b"\n",
        "outside-section": b"log_level = info\n",
        "duplicates": b"[agent]\nlog_level = info\nlog_level = debug\n[agent]\n"
                      b"[tunnel a]\ntype = quick\nport = 80\n[tunnel b]\ntype = quick\nport = 80\n",
        "tunnel-names": b"[tunnel Drone]\n[tunnel]\n[tunnel 7up]\n[tunnel ok-1]\n[tunnelx]\n[ tunnel  sp ]\n",
        "wrong-type-keys": b"[tunnel a]\nport = 80\n[tunnel b]\ntype = quick\nport = 81\nhostname = a.example.com\n"
                           b"token_env = X\n",
        "unsafe-values": b"[cloudflared]\nextra_args = --token abc --url http://x --metrics=1 run\n"
                         b"[watchdog]\nbackoff_initial_ms = 5000\nbackoff_max_ms = 1000\n[agent]\n"
                         b"socket_mode = 999\nallow_uids = nosuchuser-xyz, 0, root\n[cloudflare]\napi_base = ftp://x\n"
                         b"[notify]\ntelegram_chat_id = 5\n",
        "continuation": b"[agent]\nsocket = /a\n  /b\npidfile = x\n\tmore\n",
        "colon-pairs": b"[agent]\nlog_level: debug\n[tunnel c]\nservice: http_status:404\n",
        "nul-and-bom": b"\xef\xbb\xbf[agent]\nlog_level = de\x00bug\n",
        "zone-hostnames": b"[cloudflare]\nzone = example.com\n[tunnel a]\n[tunnel b]\nhostname = b.other.org\n"
                          b"token_env = TOK_B\n",
        "routes": b"[cloudflare]\nzone = example.com\n[tunnel drone]\n"
                  b"route = video.example.com -> http://localhost:8080\n"
                  b"route = ui.example.com -> https://localhost:8443 noTLSVerify=true httpHostHeader=localhost "
                  b"connectTimeout=1m30s\nroute = ssh.example.com -> ssh://localhost:22\n"
                  b"route = Video.example.com -> tcp://x:1\n[tunnel b]\nroute = bad -> ftp://x connectTimeout=9h\n"
                  b"hostname = ui.example.com\n[tunnel c]\ntype = quick\nport = 1\nroute = c.example.com -> x\n",
        "go-knobs": b"[cloudflared]\nmemory_limit = 64MiB\nmax_procs = 2\ngc_percent = off\n[tunnel a]\n"
                    b"memory_limit = 512KiB\nmax_procs = 0\ngc_percent = 50\n",
        "local": b"[tunnel home]\ntype = local\nconfig = /nonexistent/config.yml\n[tunnel h2]\ntype = local\n"
                 b"config = relative.yml\nhostname = a.example.com\n",
    }
    return out


# --- env files (test/unit/test_envfile.cpp) ---------------------------------------
ENVFILES = {
    "operator-file": b"# tunnels for the garage pi\n\nFOO=bar\n  # indented comment\n"
                     b"this line is not an assignment\nCF_TUNNEL_TOKEN_WEB=eyJhIjoiMSJ9\n\t\nLAST=1\n",
    "not-assignments": b"=value\n1KEY=x\nKEY\nexport\nexport =1\n  \xff\xfe junk\n#KEY=commented\nKEY WORD=1\n",
    "export-blanks": b"export A=1\n  export\tB = 2\n\tC =3\nexport=4\nexportD=5\n",
    "quoted": b"D=\"two words\"\nS='it''s'\nE=\"a \\\"q\\\" b\\\\c \\$HOME \\n\"\nL='a \\ \"b\"'\n"
              b"T=\"x\"   # trailing comment\nU=plain value  \nO=\"open\nEMPTY=\nEQ=a=b\n",
    "crlf": b"# c\r\nA=1\r\nB=\"q\"\r\n\r\nodd\r\n",
    "mixed-eol": b"A=1\nB=2\r\n",
    "no-final-newline": b"# c\nA=1",
    "crlf-comment-last": b"A=1\r\n# end",
    "stray-cr": b"A=1\r",
    "duplicates": b"A=first\n# between\nA=second\nB=1\nA=third\n",
    "same-values": b"export A=1\nB=\"quoted\"\nC='single'\n  D = spaced  \nE=1",
    "quirks": b"Q=\"a\\`b\\x\"\nR='\nS=\"\\\nT=\"x\r\"\r\nU=a\x00b\nexport  export=1\nV= \t\r\n",
    "empty": b"",
}


# Byte 0 of a cfreply input: (status index << 2) | shape, as in
# fuzz_cfreply.cpp (index 0 = 200, 3 = 400, 8 = 429; shape 0 any, 1 object,
# 2 array, 3 string).
def cfreply(index, shape, body):
    return bytes([(index << 2) | shape]) + body


CFREPLIES = {
    "verify-active": cfreply(0, 1, b'{"success":true,"errors":[],"messages":[],"result":{"id":"t","status":"active"}}'),
    "zones": cfreply(0, 2, b'{"success":true,"errors":[],"result":[{"id":"z","name":"example.com",'
                           b'"account":{"id":"a"}}],"result_info":{"page":1,"count":1}}'),
    "token-string": cfreply(0, 3, b'{"success":true,"errors":[],"result":"eyJhIjoiYSJ9"}'),
    "success-string-true": cfreply(0, 1, b'{"success":"true","errors":[],"result":{"status":"active"}}'),
    "error-message-null": cfreply(3, 0, b'{"success":false,"errors":[{"code":1000,"message":null}]}'),
    "error-code-string": cfreply(3, 0, b'{"success":false,"errors":[{"code":"1013","message":7}]}'),
    "errors-not-a-list": cfreply(3, 0, b'{"success":false,"errors":"bad"}'),
    "result-wrong-shape": cfreply(0, 2, b'{"success":true,"errors":[],"result":{"id":"x"}}'),
    "rate-limited": cfreply(8, 0, b'{"success":false,"errors":[{"code":971,"message":"Please wait"}]}'),
    "not-json": cfreply(11, 0, b"<html>502 Bad Gateway</html>"),
    "empty": cfreply(0, 0, b""),
}


def write(outdir, target, name, data):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fuzz/seeds.py OUTDIR")
    outdir = sys.argv[1]
    sets = {"request": REQUESTS, "scanner": scanner_seeds(), "config": config_seeds(), "envfile": ENVFILES,
            "cfreply": CFREPLIES}
    for target, seeds in sets.items():
        for name, data in seeds.items():
            write(outdir, target, name, data)
        print("%-8s %3d seeds, %7d bytes" % (target, len(seeds), sum(len(d) for d in seeds.values())))


if __name__ == "__main__":
    main()
