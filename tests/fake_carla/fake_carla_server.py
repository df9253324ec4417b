"""A stand-in for CarlaUE4.sh in tests: logs its arguments, listens on the RPC and streaming ports,
answers the ``version`` RPC as CARLA does, and starts a child process (to check that stopping the
server's process group leaves no orphan).

FAKE_CARLA_BEHAVIOUR: ``normal`` (default), ``fail`` (exit 1 at once), ``crash:S`` (exit 3 after S s),
``hang:S`` (stop answering after S s), ``slow:S`` (start listening after S s).
"""

import os
import socket
import subprocess
import sys
import threading
import time

import msgpack

arguments = dict(a.lstrip("-").split("=", 1) if "=" in a else (a.lstrip("-"), "") for a in sys.argv[1:])
print("fake CARLA started with", " ".join(sys.argv[1:]), flush=True)
behaviour, _, value = os.environ.get("FAKE_CARLA_BEHAVIOUR", "normal").partition(":")
delay = float(value or 0)
if behaviour == "fail":
    print("fake CARLA: failing at start", flush=True)
    sys.exit(1)
if behaviour == "slow":
    time.sleep(delay)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
print(f"fake CARLA child pid {child.pid}", flush=True)
hung = threading.Event()


def listen(port: int) -> socket.socket:
    server = socket.socket()
    server.bind(("127.0.0.1", port))  # fails if the port is taken: a collision shows as an exit
    server.listen()
    return server


def serve_rpc(server: socket.socket) -> None:
    def handle(connection: socket.socket) -> None:
        unpacker = msgpack.Unpacker(raw=False)
        while not hung.is_set():
            data = connection.recv(65536)
            if not data or hung.is_set():
                return
            unpacker.feed(data)
            for message in unpacker:
                if message[0] == 0:
                    _, message_id, method, _ = message
                    result = [[1, "0.9.16"]] if method == "version" else [[0, [f"unsupported: {method}"]]]
                    connection.sendall(msgpack.packb([1, message_id, None, result]))

    while True:
        connection, _ = server.accept()
        threading.Thread(target=handle, args=(connection,), daemon=True).start()


rpc = listen(int(arguments["carla-rpc-port"]))
streaming = listen(int(arguments["carla-streaming-port"]))
threading.Thread(target=serve_rpc, args=(rpc,), daemon=True).start()
started = time.monotonic()
while True:
    time.sleep(0.05)
    if behaviour == "crash" and time.monotonic() - started > delay:
        print("fake CARLA: crashing", flush=True)
        os._exit(3)
    if behaviour == "hang" and time.monotonic() - started > delay:
        hung.set()
