"""A TCP proxy in front of the real Redis, so that a test can take the broker away from the web side
for real: `down()` closes the listening socket (connections are refused) and every open connection;
`blackhole()` accepts connections and never answers (a broker that hangs); `up()` forwards again,
on the same port."""

from __future__ import annotations

import contextlib
import select
import socket
import threading

UP, DOWN, BLACKHOLE = "up", "down", "blackhole"


class TcpProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.mode = DOWN
        self.port = 0
        self.url = ""  # the address clients use, set by whoever knows the protocol
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def up(self) -> None:
        self._close_all()
        self.mode = UP
        self._listen()

    def down(self) -> None:
        """No broker: the port refuses connections, and the ones open are cut."""
        self.mode = DOWN
        self._close_all()

    def blackhole(self) -> None:
        """A broker that hangs: connections are accepted (and kept) but nothing is ever answered."""
        self._close_all()
        self.mode = BLACKHOLE
        self._listen()

    def close(self) -> None:
        self.down()

    # --- internals -------------------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        self.port = listener.getsockname()[1]
        listener.listen(64)
        listener.settimeout(0.1)  # the accepting thread notices a closed listener within this
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="faults-proxy").start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _address = listener.accept()
            except TimeoutError:
                with self._lock:
                    if self._listener is not listener:
                        return
                continue
            except OSError:  # the listener was closed
                return
            client.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    return
                self._sockets.add(client)
                mode = self.mode
            if mode == BLACKHOLE:
                continue  # kept open, never read, never answered
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                self._forget(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets.add(server)
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        pair = {client: server, server: client}
        try:
            while True:
                readable, _w, _x = select.select(list(pair), [], [], 0.5)
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    pair[source].sendall(data)
                with self._lock:
                    if client not in self._sockets:
                        return
        except (OSError, ValueError):
            return
        finally:
            self._forget(client)
            self._forget(server)

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()

    def _close_all(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = list(self._sockets), set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
