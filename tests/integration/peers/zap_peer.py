#!/usr/bin/python3
"""zap_peer - an independent CURVE client (pyzmq) for the ZAP integration test.

Connects a DEALER to the broker endpoint with a CURVE keypair read from a ZeroMQ
certificate file (the format cf_curve_keypair_save writes), sends "hello", and waits
for the test's echo ["echo", <User-Id>, <kind>] or for a refused handshake.

Exit codes (the C test reads them; 1 and 2 are left to Python itself: an uncaught
exception, a bad command line):
  0   handshake accepted and the echo named the expected User-Id
  10  refused: the handshake failed on authentication (ZAP said no)
  11  neither within the time limit
  12  accepted, but the echo did not name the expected User-Id
  13  setup error (key files)
With --hold, after success it prints "ready" and waits to be killed (the test then
freezes it with SIGSTOP to play a half-open peer).
"""
import argparse
import sys
import time

import zmq
import zmq.auth
from zmq.utils.monitor import recv_monitor_message

EXIT_OK, EXIT_REFUSED, EXIT_TIMEOUT, EXIT_MISMATCH, EXIT_ERROR = 0, 10, 11, 12, 13


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", required=True, help="tcp://127.0.0.1:PORT")
    p.add_argument("--server-cert", required=True, help="broker's public certificate file")
    p.add_argument("--cert", required=True, help="our secret certificate file")
    p.add_argument("--id", required=True, help="routing id to present")
    p.add_argument("--expect", required=True, help="User-Id the echo must carry")
    p.add_argument("--timeout-ms", type=int, default=10000)
    p.add_argument("--hold", action="store_true", help="stay connected after success")
    p.add_argument("--ttl-ms", type=int, default=0,
                   help="ZMTP TTL our PINGs carry (0: none)")
    return p.parse_args()


def make_socket(ctx, args):
    server_public, _ = zmq.auth.load_certificate(args.server_cert)
    public, secret = zmq.auth.load_certificate(args.cert)
    if secret is None:
        raise ValueError("no secret-key in " + args.cert)
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RECONNECT_IVL, 100)
    sock.setsockopt(zmq.HEARTBEAT_IVL, 100)  # our own PINGs, every 100 ms
    if args.ttl_ms > 0:
        sock.setsockopt(zmq.HEARTBEAT_TTL, args.ttl_ms)  # the broker drops us this long after
    sock.curve_serverkey = server_public
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.setsockopt(zmq.ROUTING_ID, args.id.encode())
    return sock


def wait(sock, monitor, args):
    """Poll the socket and its monitor until the echo, a refusal or the deadline."""
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(monitor, zmq.POLLIN)
    deadline = time.monotonic() + args.timeout_ms / 1000.0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return EXIT_TIMEOUT
        events = dict(poller.poll(int(left * 1000) + 1))
        if monitor in events:
            ev = recv_monitor_message(monitor)
            if ev["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                print("refused: handshake failed, status", ev["value"])
                return EXIT_REFUSED
        if sock in events:
            frames = sock.recv_multipart()
            print("echo:", [f.decode(errors="replace") for f in frames])
            if len(frames) >= 2 and frames[0] == b"echo" and frames[1] == args.expect.encode():
                return EXIT_OK
            return EXIT_MISMATCH


def main():
    args = parse_args()
    ctx = zmq.Context()
    try:
        sock = make_socket(ctx, args)
    except (OSError, ValueError, zmq.ZMQError) as e:
        print("setup:", e)
        return EXIT_ERROR
    monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
    sock.connect(args.endpoint)
    sock.send(b"hello")
    rc = wait(sock, monitor, args)
    print("result:", rc, flush=True)
    if rc == EXIT_OK and args.hold:
        print("ready", flush=True)
        while True:
            time.sleep(3600)  # until the test kills us
    sock.disable_monitor()
    ctx.destroy(linger=0)
    return rc


if __name__ == "__main__":
    sys.exit(main())
