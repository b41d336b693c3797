"""A switchable TCP proxy in front of PostgreSQL, for outage tests (the `proxy` fixture in conftest)."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading

IO_TIMEOUT = 5.0


class SwitchableProxy:
    """A TCP forwarder on 127.0.0.1:<free port>, run by one selector thread; `down()` cuts every
    connection and closes each new one at once, `up()` forwards again. Commands are synchronous."""

    MAX_CONNECTIONS = 64

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.listener, selectors.EVENT_READ, None)
        self._peers: dict[socket.socket, socket.socket] = {}
        self._lock = threading.Lock()
        self._commands: list[tuple[str, threading.Event]] = []
        self._is_up = True
        self._stopping = False
        self.accepted = 0
        self._thread = threading.Thread(target=self._run, name="pg-outage-proxy", daemon=True)
        self._thread.start()

    # -- commands from the test thread ----------------------------------------------------------
    def _command(self, name: str) -> None:
        done = threading.Event()
        with self._lock:
            self._commands.append((name, done))
        if not done.wait(IO_TIMEOUT):
            raise RuntimeError(f"proxy did not acknowledge {name!r}")

    def down(self) -> None:
        self._command("down")

    def up(self) -> None:
        self._command("up")

    def stop(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):
                self._command("stop")
            self._thread.join(IO_TIMEOUT)
        self._close_everything()

    # -- the selector loop ------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stopping:
                self._handle_commands()
                if self._stopping:
                    break
                for key, _ in self._selector.select(timeout=0.05):
                    if key.fileobj is self.listener:
                        self._accept()
                    elif key.fileobj in self._peers:
                        self._pump(key.fileobj)
        finally:
            self._close_everything()

    def _handle_commands(self) -> None:
        with self._lock:
            commands, self._commands = self._commands, []
        for name, done in commands:
            if name == "down":
                self._is_up = False
                self._close_pairs()
            elif name == "up":
                self._is_up = True
            elif name == "stop":
                self._stopping = True
            done.set()

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except (BlockingIOError, OSError):
            return
        self.accepted += 1
        if not self._is_up or len(self._peers) >= 2 * self.MAX_CONNECTIONS:
            client.close()
            return
        try:
            upstream = socket.create_connection(self.target, timeout=IO_TIMEOUT)
        except OSError:
            client.close()
            return
        for sock in (client, upstream):
            sock.settimeout(IO_TIMEOUT)  # sendall below can never block the loop for long
            self._selector.register(sock, selectors.EVENT_READ, None)
        self._peers[client], self._peers[upstream] = upstream, client

    def _pump(self, sock: socket.socket) -> None:
        peer = self._peers[sock]
        try:
            data = sock.recv(65536)
            if data:
                peer.sendall(data)
                return
        except OSError:
            pass
        self._close_pair(sock)

    def _close_pair(self, sock: socket.socket) -> None:
        peer = self._peers.pop(sock, None)
        for s in (sock, peer):
            if s is None:
                continue
            self._peers.pop(s, None)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(s)
            with contextlib.suppress(OSError):
                s.close()

    def _close_pairs(self) -> None:
        for sock in list(self._peers):
            self._close_pair(sock)

    def _close_everything(self) -> None:
        self._close_pairs()
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(self.listener)
        self.listener.close()
        self._selector.close()
