#!/usr/bin/env python3
"""A minimal Ipop controller in Python (standard library only).

It talks to Tincan through the Controller-Tincan API: newline-delimited JSON over a Unix domain
socket, described in docs/controller-api.md. Use the TincanClient class in your own controller, or
run the CLI:

    ipop_controller.py pair --a /run/ipop/a.sock --b /run/ipop/b.sock \
        --a-id alice --b-id bob --a-address 198.19.0.1/24 --b-address 198.19.0.2/24

which creates a TUN interface on each node, exchanges their link descriptors, creates the two
links, routes each node's overlay address to the other, and waits until both links are connected.
(In a real deployment the descriptors travel over signaling such as XMPP; here one controller
holds both sockets, which is what the namespace lab does.)

    ipop_controller.py status --socket /run/ipop/a.sock

prints the links of one node.

The nodes are ipop-tincan processes with a ControllerApi section and no interface of their own, such as
tools/Ipop.TincanHost/examples/external-controller.json (its socket: /run/ipop/tincan.sock); see
docs/tincan-host.md, "Running with an external controller":

    sudo ipop-tincan run --config tools/Ipop.TincanHost/examples/external-controller.json
"""

import argparse
import base64
import collections
import hashlib
import ipaddress
import itertools
import json
import socket
import sys
import time

PROTOCOL_VERSION = 1
MAX_LINE_BYTES = 16 * 1024 * 1024


class ApiError(Exception):
    """A request failed; `code` is one of the stable error codes of docs/controller-api.md."""

    def __init__(self, op, code, message):
        super().__init__(f"{op}: {code}: {message}")
        self.op = op
        self.code = code
        self.message = message


class TincanClient:
    """One connection to a Tincan's controller API socket.

    request() sends one request and returns its result; events that arrive while waiting are kept
    and returned by next_event() in order, so no event is lost between requests.
    """

    def __init__(self, path, timeout=10.0):
        self.path = path
        self.timeout = timeout
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(path)
        self._buffer = bytearray()
        self._ids = itertools.count(1)
        self._events = collections.deque()
        self.session = None

    def close(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def fileno(self):
        return self._sock.fileno()

    # -- wire -------------------------------------------------------------------------------

    def _send(self, message):
        line = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
        self._sock.sendall(line)

    def _read_message(self, deadline):
        """Returns the next message from the server, or None if the deadline passed first."""
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                if line.strip():
                    return json.loads(line.decode("utf-8"))
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                raise ConnectionError(f"{self.path}: the server closed the connection")
            self._buffer += chunk
            if len(self._buffer) > MAX_LINE_BYTES:
                raise ConnectionError(f"{self.path}: a message is larger than {MAX_LINE_BYTES} bytes")

    def request(self, op, args=None, timeout=None):
        """Sends one request; returns its result or raises ApiError."""
        request_id = next(self._ids)
        self._send({"v": PROTOCOL_VERSION, "id": request_id, "op": op, "args": args or {}})
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            message = self._read_message(deadline)
            if message is None:
                raise TimeoutError(f"{self.path}: no answer to {op} within {timeout or self.timeout} s")
            if "event" in message:
                self._events.append(message)
                continue
            if message.get("id") not in (request_id, None):
                continue
            if message.get("ok"):
                return message["result"]
            error = message.get("error", {})
            raise ApiError(op, error.get("code", "unknown"), error.get("message", ""))

    def next_event(self, timeout=None):
        """Returns the next event ({"v":1,"event":kind,"data":{...}}), or None after `timeout` seconds."""
        if self._events:
            return self._events.popleft()
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            message = self._read_message(deadline)
            if message is None or "event" in message:
                return message

    def events(self, timeout):
        """Yields events until `timeout` seconds pass without one."""
        while True:
            event = self.next_event(timeout)
            if event is None:
                return
            yield event

    # -- operations ---------------------------------------------------------------------------

    def version(self):
        result = self.request("version")
        if result["protocol"] != PROTOCOL_VERSION:
            raise ApiError("version", "unsupported_version", f"server speaks protocol {result['protocol']}")
        self.session = result["session"]
        return result

    def claim(self):
        return self.request("session.claim")

    def subscribe(self, kinds, stats_interval_ms=None):
        args = {"kinds": list(kinds)}
        if stats_interval_ms is not None:
            args["stats_interval_ms"] = stats_interval_ms
        return self.request("events.subscribe", args)

    def query_interface(self):
        return self.request("interface.query")["interface"]

    def create_interface(self, name="", mode="tun", mtu=1400, addresses=(), mac=None):
        args = {"name": name, "mode": mode, "mtu": mtu, "addresses": list(addresses)}
        if mac:
            args["mac"] = mac
        return self.request("interface.create", args)["interface"]

    def descriptor(self):
        return self.request("descriptor.get")["descriptor"]

    def create_link(self, peer, descriptor):
        return self.request("link.create", {"peer": peer, "descriptor": descriptor})["link"]

    def remove_link(self, peer):
        return self.request("link.remove", {"peer": peer})["removed"]

    def query_link(self, peer=None):
        if peer is None:
            return self.request("link.query")["links"]
        return self.request("link.query", {"peer": peer})["link"]

    def set_route(self, peer=None, prefix=None, mac=None, kind=None):
        """route.set. kind: None (the server's default, "direct"), "direct", "forward" (peer is the next hop),
        "local" or "unreachable" (no peer). Kinds other than "direct" need the server's "route.kind" feature; on a
        tap interface, "forward" with a mac (a member's MAC through a next hop) needs "ring.member_routes"."""
        args = {}
        if kind is not None:
            args["kind"] = kind
        if peer is not None:
            args["peer"] = peer
        if prefix is not None:
            args["prefix"] = prefix
        if mac is not None:
            args["mac"] = mac
        return self.request("route.set", args)["route"]

    def set_ring_position(self, position, peer=None):
        """ring.set: a tap interface's 64-bit ring position (an int, sent as 16 hex digits), this node's or peer's."""
        args = {"position": ring_position_hex(position)}
        if peer is not None:
            args["peer"] = peer
        return self.request("ring.set", args)

    def send_control(self, peer, data):
        return self.request("link.send_control", {"peer": peer, "data": base64.b64encode(data).decode("ascii")})


def ring_position(member_id):
    """A member's ring position: the first 8 bytes, big-endian, of the SHA-256 of its id (as Ipop's controllers)."""
    return int.from_bytes(hashlib.sha256(member_id.encode("utf-8")).digest()[:8], "big")


def ring_position_hex(position):
    """Positions cross JSON as 16 hex digits: many parsers read numbers as doubles, exact only up to 2**53."""
    if not 0 <= position < 2**64:
        raise ValueError(f"a ring position is a 64-bit unsigned number; got {position}")
    return f"{position:016x}"


def host_prefix(address):
    """'198.19.0.2/24' -> '198.19.0.2/32' (the route to exactly that peer)."""
    ip = ipaddress.ip_interface(address).ip
    return f"{ip}/{ip.max_prefixlen}"


def describe(link):
    text = f"{link['peer']}: {link['state']}"
    if link["state"] == "connected":
        text += f" ({link['path']})"
    elif link["reason"] != "none":
        text += f" ({link['reason']}" + (f": {link['detail']}" if link.get("detail") else "") + ")"
    return text


def ensure_interface(client, name, mode, mtu, address):
    existing = client.query_interface()
    if existing is not None:
        return existing
    return client.create_interface(name=name, mode=mode, mtu=mtu, addresses=[address])


def wait_connected(pending, timeout, log):
    """pending: {client: peer}. Returns when every link is connected; raises on failure or timeout."""
    deadline = time.monotonic() + timeout
    for client, peer in list(pending.items()):
        link = client.query_link(peer)
        log(f"{client.path}: {describe(link)}")
        if link["state"] == "connected":
            del pending[client]
    while pending:
        if time.monotonic() >= deadline:
            raise TimeoutError("links not connected in time: " + ", ".join(f"{c.path} -> {p}" for c, p in pending.items()))
        for client, peer in list(pending.items()):
            event = client.next_event(timeout=0.1)
            if event is None:
                continue
            if event["event"] == "events_dropped":
                link = client.query_link(peer)  # we may have missed a change: ask for the current state
                data = {"peer": peer, **{k: link[k] for k in ("state", "path", "reason", "detail")}}
            elif event["event"] == "link_state":
                data = event["data"]
            else:
                continue
            if data["peer"] != peer:
                continue
            log(f"{client.path}: {describe(data)}")
            if data["state"] == "connected":
                del pending[client]
            elif data["state"] in ("failed", "closed"):
                raise RuntimeError(f"{client.path}: link to {peer} {data['state']}: {data['reason']} {data.get('detail') or ''}".rstrip())


def pair(args):
    log = (lambda text: None) if args.quiet else (lambda text: print(text, flush=True))
    with TincanClient(args.a, args.request_timeout) as a, TincanClient(args.b, args.request_timeout) as b:
        for client in (a, b):
            info = client.version()
            client.claim()
            client.subscribe(["link_state"])
            log(f"{client.path}: protocol {info['protocol']}, package {info['package']}, session {info['session']}")
        nic_a = ensure_interface(a, args.a_interface, args.mode, args.mtu, args.a_address)
        nic_b = ensure_interface(b, args.b_interface, args.mode, args.mtu, args.b_address)
        log(f"{a.path}: interface {nic_a['name']} {' '.join(nic_a['addresses'])}")
        log(f"{b.path}: interface {nic_b['name']} {' '.join(nic_b['addresses'])}")
        descriptor_a = a.descriptor()
        descriptor_b = b.descriptor()
        a.create_link(args.b_id, descriptor_b)
        b.create_link(args.a_id, descriptor_a)
        if args.mode == "tun":
            a.set_route(args.b_id, prefix=host_prefix(args.b_address))
            b.set_route(args.a_id, prefix=host_prefix(args.a_address))
        wait_connected({a: args.b_id, b: args.a_id}, args.timeout, log)
        log("both links connected")
        if args.hold > 0:
            time.sleep(args.hold)
    return 0


def status(args):
    with TincanClient(args.socket, args.request_timeout) as client:
        for link in client.query_link():
            print(describe(link))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description="Drive Tincan nodes through the Ipop controller API.")
    parser.add_argument("--request-timeout", type=float, default=10.0, help="seconds to wait for each answer")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("pair", help="link two nodes and wait until both links are connected")
    p.add_argument("--a", required=True, help="controller API socket of node A")
    p.add_argument("--b", required=True, help="controller API socket of node B")
    p.add_argument("--a-id", default="node-a", help="overlay id of node A (as B knows it)")
    p.add_argument("--b-id", default="node-b", help="overlay id of node B (as A knows it)")
    p.add_argument("--a-address", default="198.19.0.1/24")
    p.add_argument("--b-address", default="198.19.0.2/24")
    p.add_argument("--a-interface", default="ipop0")
    p.add_argument("--b-interface", default="ipop0")
    p.add_argument("--mode", choices=("tun", "tap"), default="tun")
    p.add_argument("--mtu", type=int, default=1400)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for both links")
    p.add_argument("--hold", type=float, default=0.0, help="seconds to stay connected (keeps ownership) before exiting")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(run=pair)

    s = commands.add_parser("status", help="print the links of one node")
    s.add_argument("--socket", required=True)
    s.set_defaults(run=status)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ApiError, TimeoutError, RuntimeError, ConnectionError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
