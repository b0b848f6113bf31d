#!/usr/bin/env python3
"""Memory of idle connections: opens N WebSocket connections to a running gateway (from this separate
process) and prints the gateway's resident memory before and after, per connection.

An interim probe until the Rust load generator of issue 13 exists. Usage, from the repository root:

    cargo build -p gateway
    ./target/debug/gateway --bind 127.0.0.1:18555 --database /tmp/idle.db \
        --jwt-secret s3cret-s3cret-s3cret-s3cret-0123 --max-connections-per-user 100000 &
    TOKEN=$(./target/debug/gateway token --user u --jwt-secret s3cret-s3cret-s3cret-s3cret-0123)
    python3 gateway/bench/idle_rss.py 18555 2000 "$TOKEN" $!
"""
import base64
import os
import socket
import sys
import time


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    raise SystemExit(f"no VmRSS for process {pid}")


def main() -> None:
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    port, count, token, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    before = rss_kib(pid)
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                "GET /v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Authorization: Bearer {token}\r\n\r\n"
            ).encode()
        )
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = sock.recv(4096)
            if not chunk:
                raise SystemExit("the gateway closed a connection during the handshake")
            response += chunk
        status = response.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise SystemExit(f"upgrade refused: {status.decode(errors='replace')}")
        sockets.append(sock)
    time.sleep(2)
    after = rss_kib(pid)
    print(f"{count} idle connections: RSS {before} KiB -> {after} KiB, {(after - before) / count:.1f} KiB per connection")


if __name__ == "__main__":
    main()
