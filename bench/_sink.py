"""The mail server for the sending benchmarks: Postfix's ``smtp-sink`` (C, fast) when it is
installed, else an aiosmtpd server in a thread. Either way every transaction's recipient is
recorded, so a run can be checked for duplicates and losses."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

RCPT = re.compile(rb"^X-Rcpt-Args: <([^>]*)>", re.M)


class Sink:
    def __init__(self) -> None:
        from tests.support.processes import free_port, port_open

        self.port = free_port()
        self.binary = shutil.which("smtp-sink") or (
            "/usr/sbin/smtp-sink" if Path("/usr/sbin/smtp-sink").exists() else None
        )
        self.server = None
        self.process = None
        if self.binary:
            self.dir = Path(tempfile.mkdtemp(prefix="sink-"))
            self.dir.chmod(0o777)  # smtp-sink drops to nobody before it writes
            self.dump = self.dir / "dump"
            args = [self.binary, "-D", str(self.dump), f"127.0.0.1:{self.port}", "1024"]
            if os.geteuid() == 0:
                args[1:1] = ["-u", "nobody"]
            self.process = subprocess.Popen(args, stderr=subprocess.DEVNULL)
            for _ in range(100):
                if port_open(self.port):
                    break
                time.sleep(0.05)
            self.name = "Postfix smtp-sink"
        else:
            from tests.support.smtp import TestSMTPServer

            self.server = TestSMTPServer().__enter__()
            self.port = self.server.port
            self.name = "aiosmtpd"

    def recipients(self) -> Counter:
        """How many times each recipient was received so far."""
        if self.server is not None:
            return Counter(r for message in self.server.received for r in message.rcpt_tos)
        if not self.dump.exists():
            return Counter()
        return Counter(m.decode() for m in RCPT.findall(self.dump.read_bytes()))

    def reset(self) -> None:
        if self.server is not None:
            with self.server.handler.lock:
                self.server.handler.received.clear()
        elif self.dump.exists():
            self.dump.unlink()  # smtp-sink opens the file per transaction

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            shutil.rmtree(self.dir, ignore_errors=True)
        if self.server is not None:
            self.server.__exit__(None, None, None)

    def check(self, expected: list[str]) -> str:
        """'N once each' or what went wrong (duplicates and losses)."""
        received = self.recipients()
        duplicates = sum(n - 1 for n in received.values() if n > 1)
        lost = sum(1 for address in expected if address not in received)
        extra = len(set(received) - set(expected))
        if duplicates or lost or extra:
            return f"WRONG: {duplicates} duplicate(s), {lost} lost, {extra} unexpected"
        return f"{len(expected)} received once each"
