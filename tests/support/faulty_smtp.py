"""An SMTP server on loopback that can be told, while running, to misbehave.

Modes: ``ok``; ``refuse`` (nothing listens: connection refused); ``slow`` (accepts, then says
nothing, beyond any client timeout); ``nonsense`` (answers with something that is not SMTP);
``421`` (says it is shutting down); ``451`` (temporarily refuses every recipient);
``drop_in_data`` (closes the connection half-way through a message); ``hang_after_data``
(queues a message, then never answers: the ambiguous case). It offers PIPELINING unless
``pipelining`` is set to False. Whatever the mode,
``reject`` and ``greylist`` hold addresses that always get a 550 or, once each, a 451, and
``reject_data`` addresses whose message is refused after its final dot (a 554, as for
content). It counts every message it accepted, per recipient, and in ``turns`` how often
it had to wait for the client to say more (one per round trip).
"""

from __future__ import annotations

import io
import socket
import socketserver
import threading
import time
from collections import Counter

from tests.support.processes import free_port


class _CountingReader(io.RawIOBase):
    """The connection's input, counting each read that had to wait for the client."""

    def __init__(self, sock: socket.socket, owner: FaultySMTPServer) -> None:
        self.sock = sock
        self.owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self.sock.recv_into(buffer)
        with self.owner.lock:
            self.owner.turns += 1
        return count


class _Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def setup(self):
        super().setup()
        self.rfile = io.BufferedReader(_CountingReader(self.connection, self.server.owner))
        # One small write per reply: without this, Nagle holds the second reply of a
        # pipelined batch until the client's delayed ACK, 40 ms per message.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.state = self.server.owner
        with self.state.lock:
            self.state.open_sessions += 1

    def finish(self):
        try:
            super().finish()
        finally:
            with self.state.lock:
                self.state.open_sessions -= 1

    def say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        server = self.state
        mode = server.mode
        with server.lock:
            server.connections += 1
        if mode == "slow":
            time.sleep(server.slow_seconds)
            return
        if mode == "nonsense":
            self.say("HTTP/1.1 400 Bad Request")
            self.say("Content-Type: text/html")
            return
        if mode == "421":
            self.say("421 4.3.2 Service shutting down, try later")
            return
        self.say("220 faulty.test ESMTP")
        recipients: list[str] = []
        mail_from = ""
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.decode("utf-8", "replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO" and server.pipelining:
                self.say("250-faulty.test")
                self.say("250 PIPELINING")
            elif verb in ("EHLO", "HELO"):
                self.say("250 faulty.test")
            elif verb == "MAIL":
                recipients = []
                mail_from = command.split(":", 1)[1].strip().split(" ")[0].strip("<>")
                self.say("250 2.1.0 OK")
            elif verb == "RCPT":
                address = command.split(":", 1)[1].strip().strip("<>").lower()
                if server.mode == "451":
                    self.say("451 4.3.0 Try again later")
                elif address in server.reject:
                    self.say("550 5.1.1 No such user here")
                elif address in server.greylist and address not in server.greylisted:
                    server.greylisted.add(address)
                    self.say("451 4.7.1 Greylisted, come back later")
                else:
                    recipients.append(address)
                    self.say("250 2.1.5 OK")
            elif verb == "DATA":
                if not recipients:
                    self.say("503 5.5.1 No recipients")
                    continue
                self.say("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while True:
                    data = self.rfile.readline()
                    if not data:
                        return
                    if server.mode == "drop_in_data" and len(lines) >= 3:
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if data in (b".\r\n", b".\n"):
                        break
                    lines.append(data)
                if set(recipients) & server.reject_data:
                    self.say("554 5.7.1 Message refused for its content")
                    recipients = []
                    continue
                if server.message_delay:
                    time.sleep(server.message_delay)  # a slow (tarpitting) server
                server.accept(recipients, b"".join(lines), mail_from)
                if server.mode == "hang_after_data":
                    time.sleep(server.slow_seconds)  # queued it, but never says so
                    return
                self.say("250 2.0.0 OK queued")
                recipients = []
            elif verb == "RSET":
                recipients = []
                self.say("250 OK")
            elif verb == "NOOP":
                self.say("250 OK")
            elif verb == "QUIT":
                self.say("221 Bye")
                return
            else:
                self.say("502 5.5.2 Command not recognised")


class _TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class FaultySMTPServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.mode = "ok"
        # Advertise RFC 2920 pipelining, as most servers do; off, the client talks in turns.
        self.pipelining = True
        self.slow_seconds = 30.0
        self.message_delay = 0.0  # seconds before the reply to each message's final dot
        # Called (with the server) after each accepted message, outside the lock: a test
        # changes the world at a chosen moment of a run.
        self.on_accept = None
        self.reject: set[str] = set()
        self.greylist: set[str] = set()
        self.greylisted: set[str] = set()
        self.reject_data: set[str] = set()
        self.turns = 0
        self.accepted: Counter[str] = Counter()
        self.accepted_at: list[float] = []
        self.connections = 0
        self.open_sessions = 0  # connected now (a killed client's session ends at once)
        self.messages: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, recipients) accepted
        self.lock = threading.Lock()
        self._server: _TCPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FaultySMTPServer:
        self._listen()
        return self

    def __exit__(self, *exc) -> None:
        self._stop()

    def accept(self, recipients: list[str], message: bytes, mail_from: str = "") -> None:
        with self.lock:
            self.envelopes.append((mail_from, list(recipients)))
            for address in recipients:
                self.accepted[address] += 1
                self.accepted_at.append(time.time())
            self.messages.append(message)
        if self.on_accept is not None:
            self.on_accept(self)

    def set_mode(self, mode: str) -> None:
        if mode == "refuse":
            self._stop()
        elif self._server is None:
            self._listen()
        self.mode = mode

    def _listen(self) -> None:
        self._server = _TCPServer(("127.0.0.1", self.port), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
