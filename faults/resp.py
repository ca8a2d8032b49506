"""Just enough of the Redis protocol to read the queue and the worker's keys: one connection,
one command at a time. The harness reads Redis; it never writes the app's keys."""

import socket


class RedisError(Exception):
    pass


class Redis:
    def __init__(self, port, timeout=5.0):
        self.port = port
        self.timeout = timeout
        self._connection = None
        self._reader = None

    def _connect(self):
        self._connection = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        self._reader = self._connection.makefile("rb")

    def close(self):
        if self._connection is not None:
            self._reader.close()
            self._connection.close()
        self._connection = self._reader = None

    def command(self, *words):
        """The reply to one command; a broken connection is opened again once (Redis restarts
        in the scenarios), and then raises OSError."""
        request = b"*%d\r\n" % len(words)
        for word in words:
            data = word if isinstance(word, bytes) else str(word).encode()
            request += b"$%d\r\n%s\r\n" % (len(data), data)
        for attempt in range(2):
            try:
                if self._connection is None:
                    self._connect()
                self._connection.sendall(request)
                return self._reply()
            except OSError:
                self.close()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def _reply(self):
        line = self._reader.readline()
        if not line:
            raise ConnectionError("Redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            data = self._reader.read(length + 2)
            return data[:-2]
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._reply() for _ in range(count)]
        raise RedisError(f"unexpected reply {line!r}")

    def scan(self, pattern):
        """Every key matching `pattern`."""
        cursor, keys = b"0", []
        while True:
            cursor, batch = self.command("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            keys.extend(key.decode() for key in batch)
            if cursor == b"0":
                return keys
