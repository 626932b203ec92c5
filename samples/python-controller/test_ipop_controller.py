"""Unit tests of the TincanClient framing, run with: python3 -m unittest test_ipop_controller

The end-to-end test against the real C# server lives in tests/Ipop.Tincan.Api.Tests (PythonControllerTests).
"""

import json
import os
import socket
import tempfile
import threading
import time
import unittest

import ipop_controller


class ScriptedServer:
    """A one-connection Unix socket server: for each request line it sends the scripted reply lines."""

    def __init__(self, replies, chunk=None):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "api.sock")
        self.replies = list(replies)
        self.chunk = chunk
        self.requests = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.listener.accept()
        with conn:
            buffer = b""
            for reply in self.replies:
                while b"\n" not in buffer:
                    data = conn.recv(4096)
                    if not data:
                        return
                    buffer += data
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                self.requests.append(request)
                out = "".join(json.dumps(r(request) if callable(r) else r, separators=(",", ":")) + "\n" for r in reply).encode()
                step = self.chunk or len(out)
                for i in range(0, len(out), step):
                    conn.sendall(out[i : i + step])
                    if self.chunk:
                        time.sleep(0.001)
            time.sleep(0.2)

    def close(self):
        self.listener.close()
        self.dir.cleanup()


def ok(result):
    return lambda request: {"v": 1, "id": request["id"], "ok": True, "result": result}


def event(kind, data):
    return {"v": 1, "event": kind, "data": data}


class TincanClientTests(unittest.TestCase):
    def test_request_returns_the_result_and_keeps_earlier_events_in_order(self):
        first = event("link_state", {"peer": "b", "state": "connecting"})
        second = event("link_state", {"peer": "b", "state": "connected"})
        server = ScriptedServer([[first, second, ok({"protocol": 1, "package": "0.1.0", "session": 4, "ops": []})]])
        try:
            with ipop_controller.TincanClient(server.path, timeout=5) as client:
                self.assertEqual(client.version()["session"], 4)
                self.assertEqual(client.session, 4)
                self.assertEqual(client.next_event(0.1), first)
                self.assertEqual(client.next_event(0.1), second)
                self.assertIsNone(client.next_event(0.05))
            self.assertEqual(server.requests[0], {"v": 1, "id": 1, "op": "version", "args": {}})
        finally:
            server.close()

    def test_errors_raise_api_error_with_the_code(self):
        error = lambda request: {"v": 1, "id": request["id"], "ok": False, "error": {"code": "not_owner", "message": "Session 1 controls this Tincan"}}
        server = ScriptedServer([[error]])
        try:
            with ipop_controller.TincanClient(server.path, timeout=5) as client:
                with self.assertRaises(ipop_controller.ApiError) as caught:
                    client.claim()
                self.assertEqual(caught.exception.code, "not_owner")
                self.assertEqual(caught.exception.op, "session.claim")
        finally:
            server.close()

    def test_messages_split_across_reads_are_reassembled(self):
        server = ScriptedServer([[event("stats", {"links": []}), ok({"links": [{"peer": "b"}]})]], chunk=7)
        try:
            with ipop_controller.TincanClient(server.path, timeout=5) as client:
                self.assertEqual(client.query_link(), [{"peer": "b"}])
                self.assertEqual(client.next_event(0.1)["event"], "stats")
        finally:
            server.close()

    def test_request_ids_increase(self):
        server = ScriptedServer([[ok({})], [ok({})], [ok({"route": {"prefix": "198.19.0.2/32", "peer": "b"}})]])
        try:
            with ipop_controller.TincanClient(server.path, timeout=5) as client:
                client.request("echo")
                client.request("echo")
                client.set_route("b", prefix="198.19.0.2/32")
            self.assertEqual([r["id"] for r in server.requests], [1, 2, 3])
            self.assertEqual(server.requests[2]["args"], {"peer": "b", "prefix": "198.19.0.2/32"})
        finally:
            server.close()

    def test_forward_routes_and_ring_positions_are_sent_as_the_api_documents(self):
        server = ScriptedServer([[ok({"route": {}})], [ok({"route": {}})], [ok({})], [ok({})]])
        try:
            with ipop_controller.TincanClient(server.path, timeout=5) as client:
                client.set_route("b", prefix="198.19.0.9/32", kind="forward")
                client.set_route(prefix="198.19.0.10/32", kind="unreachable")
                client.set_ring_position(0x3F1B8C07AA52E916)
                client.set_ring_position(5, peer="b")
            self.assertEqual(server.requests[0]["args"], {"kind": "forward", "peer": "b", "prefix": "198.19.0.9/32"})
            self.assertEqual(server.requests[1]["args"], {"kind": "unreachable", "prefix": "198.19.0.10/32"})
            self.assertEqual(server.requests[2], {"v": 1, "id": 3, "op": "ring.set", "args": {"position": "3f1b8c07aa52e916"}})
            self.assertEqual(server.requests[3]["args"], {"position": "0000000000000005", "peer": "b"})
        finally:
            server.close()

    def test_a_ring_position_is_the_first_eight_bytes_of_the_ids_sha256_and_must_fit_64_bits(self):
        # The same value RingPosition.Of computes in Ipop.Controllers for this id.
        self.assertEqual(ipop_controller.ring_position("alice@lab.test/ipop-1"), 0x801A9B06E8FF92DE)
        with self.assertRaises(ValueError):
            ipop_controller.ring_position_hex(2**64)
        with self.assertRaises(ValueError):
            ipop_controller.ring_position_hex(-1)

    def test_host_prefix_is_the_full_length_route(self):
        self.assertEqual(ipop_controller.host_prefix("198.19.0.2/24"), "198.19.0.2/32")
        self.assertEqual(ipop_controller.host_prefix("2001:2::2/64"), "2001:2::2/128")


if __name__ == "__main__":
    unittest.main()
