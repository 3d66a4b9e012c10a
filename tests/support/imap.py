"""A small IMAP4rev1 server on loopback for tests: one account, folders of messages, and the
commands the bounce reader uses (LOGIN, CREATE, SELECT, UID SEARCH/FETCH/COPY/STORE,
EXPUNGE, LOGOUT), spoken over a real socket to the real ``imaplib`` client."""

from __future__ import annotations

import re
import socketserver
import threading

from tests.support.processes import free_port


class _Handler(socketserver.StreamRequestHandler):
    def say(self, line: bytes | str) -> None:
        self.wfile.write((line.encode() if isinstance(line, str) else line) + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        box: FakeIMAPServer = self.server.owner
        selected = None
        self.say("* OK [CAPABILITY IMAP4rev1] test server ready")
        while line := self.rfile.readline():
            tag, _space, rest = line.decode().rstrip("\r\n").partition(" ")
            command, _space, args = rest.partition(" ")
            command = command.upper()
            if command == "UID":
                command, _space, args = args.partition(" ")
                command = "UID " + command.upper()
            with box.lock:
                if command == "CAPABILITY":
                    self.say("* CAPABILITY IMAP4rev1")
                elif command == "LOGIN":
                    user, password = (part.strip('"') for part in args.split(" ", 1))
                    if (user, password) != (box.user, box.password):
                        self.say(f"{tag} NO [AUTHENTICATIONFAILED] wrong password")
                        continue
                elif command == "CREATE":
                    name = args.strip('"')
                    if name in box.folders:
                        self.say(f"{tag} NO [ALREADYEXISTS] exists")
                        continue
                    box.folders[name] = {}
                elif command == "SELECT":
                    selected = box.folders.setdefault(args.strip('"'), {})
                    self.say(f"* {len(selected)} EXISTS")
                    self.say("* OK [UIDVALIDITY 1] UIDs valid")
                elif command == "UID SEARCH":
                    self.say("* SEARCH " + " ".join(str(uid) for uid in sorted(selected)))
                elif command == "UID FETCH":
                    uid = int(args.split(" ", 1)[0])
                    raw = selected[uid][0]
                    self.say(f"* {uid} FETCH (UID {uid} BODY[] {{{len(raw)}}}".encode())
                    self.wfile.write(raw)
                    self.say(")")
                elif command == "UID COPY":
                    if box.refuse_copy:
                        self.say(f"{tag} NO [TRYCREATE] no such folder")
                        continue
                    uid, target = args.split(" ", 1)
                    folder = box.folders[target.strip('"')]
                    folder[max(folder, default=0) + 1] = (selected[int(uid)][0], set())
                elif command == "UID STORE":
                    uid, _mode, flags = args.split(" ", 2)
                    selected[int(uid)][1].update(re.findall(r"\\\w+", flags))
                elif command == "EXPUNGE":
                    for uid in [u for u, (_raw, flags) in selected.items() if "\\Deleted" in flags]:
                        del selected[uid]
                elif command == "LOGOUT":
                    self.say("* BYE")
                    self.say(f"{tag} OK LOGOUT completed")
                    return
                else:
                    self.say(f"{tag} BAD unknown command")
                    continue
            self.say(f"{tag} OK {command} completed")


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class FakeIMAPServer:
    def __init__(self, *, user: str = "bounces", password: str = "test-only") -> None:  # noqa: S107
        self.user, self.password = user, password
        self.port = free_port()
        self.lock = threading.Lock()
        self.folders: dict[str, dict[int, tuple[bytes, set[str]]]] = {"INBOX": {}}
        self.refuse_copy = False

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        with self.lock:
            messages = self.folders.setdefault(folder, {})
            messages[max(messages, default=0) + 1] = (raw, set())

    def messages(self, folder: str) -> list[bytes]:
        with self.lock:
            return [raw for raw, _flags in self.folders.get(folder, {}).values()]

    def url(self, password: str | None = None) -> str:
        return f"imap://{self.user}:{password or self.password}@127.0.0.1:{self.port}/INBOX"

    def __enter__(self) -> FakeIMAPServer:
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
