"""Python asyncio streams on the tcp-echo scenario of bench/streams.bench.ts (a peer row).

The same work as the aiots row: in one process, a server echoing with read/write/drain and
CONNECTIONS clients each doing round trips (write, drain, readexactly) until DURATION seconds
have passed. Prints one JSON line: {"n": round trips, "seconds": elapsed}.

    python3 bench/peers/tcp_echo.py <connections> <message bytes> <duration ms>
"""

import asyncio
import json
import sys
import time

HOST = "127.0.0.1"


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def client(port: int, message: bytes, deadline: float) -> int:
    reader, writer = await asyncio.open_connection(HOST, port)
    done = 0
    while time.perf_counter() < deadline:
        writer.write(message)
        await writer.drain()
        echo = await reader.readexactly(len(message))
        if len(echo) != len(message):
            raise RuntimeError("short echo")
        done += 1
    writer.transport.abort()
    return done


async def main(connections: int, size: int, duration_ms: int) -> None:
    server = await asyncio.start_server(handle, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    message = b"a" * size
    start = time.perf_counter()
    deadline = start + duration_ms / 1000
    counts = await asyncio.gather(*(client(port, message, deadline) for _ in range(connections)))
    elapsed = time.perf_counter() - start
    server.close()
    await server.wait_closed()
    print(json.dumps({"n": sum(counts), "seconds": elapsed}))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
