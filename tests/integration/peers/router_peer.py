#!/usr/bin/python3
"""router_peer - an independent CURVE ROUTER (pyzmq) for the heartbeat integration test.

Binds a CURVE server ROUTER on --endpoint with the secret certificate --cert (the format
cf_curve_keypair_save writes), no ZAP handler, no heartbeats of its own, and answers every
message [routing id, data] with [routing id, "echo", data] until it is killed. The test
freezes it with SIGSTOP to play a broker whose host vanished: the TCP connection stays
open and nothing answers the client's PINGs any more.

Exit codes: 13 setup error (key file, bind); 1 and 2 are left to Python itself.
"""
import argparse
import sys

import zmq
import zmq.auth

EXIT_ERROR = 13


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", required=True, help="tcp://127.0.0.1:PORT to bind")
    p.add_argument("--cert", required=True, help="our secret certificate file")
    args = p.parse_args()
    ctx = zmq.Context()
    try:
        public, secret = zmq.auth.load_certificate(args.cert)
        if secret is None:
            raise ValueError("no secret-key in " + args.cert)
        sock = ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.curve_server = True
        sock.curve_publickey = public
        sock.curve_secretkey = secret
        sock.bind(args.endpoint)
    except (OSError, ValueError, zmq.ZMQError) as e:
        print("setup:", e, flush=True)
        return EXIT_ERROR
    print("ready", flush=True)
    while True:
        frames = sock.recv_multipart()
        if len(frames) >= 2:
            sock.send_multipart([frames[0], b"echo"] + frames[1:])


if __name__ == "__main__":
    sys.exit(main())
