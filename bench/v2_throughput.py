"""Rows per second of v2 binary inference into ``faces-softmax``, against a minimal receiver.

The service (gunicorn, two workers, the whole stack: auth, limits, validation,
defence, query log) and a minimal HTTP receiver (raw sockets, as many processes
as the service has workers, one thread each: ``recv_into`` preallocated buffers,
parse the HTTP headers and the v2 header length, ``softmax(X @ W + b)`` with the
same weights taken from the zoo's white-box export, answer a v2 binary tensor)
get the same pre-built binary requests over keep-alive from the same number of
client threads, in the same run, alternating. The ratio says what the stack
costs; the batch sweep says which batch size the fast path wants.

    python bench/v2_throughput.py [--batches 40] [--rounds 5] [--threads 2] [--sizes 128,256,512,1024,1536]

Environment as for the service (``MLAAS_DATA_DIR`` for the real faces, else the
digits fallback). The default body limit (64 MiB) admits up to 1628 face rows.
The service's workers let OpenBLAS's threads sleep at once (``gunicorn.conf.py``);
the receiver runs with numpy's defaults unless ``OPENBLAS_THREAD_TIMEOUT=4`` is
set for this command too, which compares the stacks alone.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import bootstrap  # noqa: E402
from app.config import INSTANCE_PATH, from_environment  # noqa: E402
from app.zoo.images import Layer  # noqa: E402
from bench.harness import cpu_seconds, create_user, gunicorn_workers, start_gunicorn  # noqa: E402

MODEL = "faces-softmax"
HEADER = "Inference-Header-Content-Length"


def softmax_layer() -> Layer:
    """The model's single softmax layer, from the white-box export (the zoo trains it on a cache miss)."""
    models = bootstrap.load_models(from_environment(INSTANCE_PATH))
    exported = models[MODEL].export()
    (layer,) = exported["layers"]
    return Layer(np.asarray(layer["weights"], np.float32), np.asarray(layer["bias"], np.float32), layer["activation"])


# --- the minimal receiver ------------------------------------------------------------------


def _serve_connection(conn: socket.socket, layer: Layer, head: memoryview, body: memoryview) -> None:
    """Keep-alive HTTP/1.1 on one thread: headers into ``head``, the body into ``body``, both preallocated.

    Parses only the request line's end, ``Content-Length`` and the v2 header length; the
    row count follows from the body's length, the tensor is a view of ``body`` whose
    binary part is 64-byte aligned, as the service aligns it.
    """
    width = layer.weights.shape[0] * 4
    pending = 0  # bytes of the next request already in ``head``
    while True:
        while (end := head.obj.find(b"\r\n\r\n", 0, pending)) < 0:  # type: ignore[union-attr]
            received = conn.recv_into(head[pending:])
            if not received:
                return
            pending += received
        length = header_length = 0
        for line in head.obj[:end].split(b"\r\n")[1:]:  # type: ignore[index]
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == HEADER.lower().encode():
                header_length = int(value)
        start = (-(np.frombuffer(body, np.uint8).ctypes.data + header_length)) % 64
        ahead = min(pending - end - 4, length)
        body[start : start + ahead] = head[end + 4 : end + 4 + ahead]
        rest = pending - end - 4 - ahead
        head[:rest] = head[pending - rest : pending]
        pending = rest
        filled = start + ahead
        while filled < start + length:
            received = conn.recv_into(body[filled : start + length])
            if not received:
                return
            filled += received
        rows = (length - header_length) // width
        X = np.frombuffer(body, np.float32, rows * width // 4, start + header_length).reshape(rows, -1)
        blob = layer(X).astype(np.float32).tobytes()
        json_head = (
            f'{{"model_name":"{MODEL}","model_version":"1","outputs":[{{"name":"probabilities","datatype":"FP32",'
            f'"shape":[{rows},{len(blob) // rows // 4}],"parameters":{{"binary_data_size":{len(blob)}}}}}]}}'
        ).encode()
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            + f"{HEADER}: {len(json_head)}\r\nContent-Length: {len(json_head) + len(blob)}\r\n\r\n".encode()
            + json_head
        )
        conn.sendall(blob)


def _raw_process(listener: socket.socket, layer: Layer, max_body: int) -> None:
    """One thread: accept a connection, serve it until the client closes, accept the next."""
    head = memoryview(bytearray(1 << 16))
    body = memoryview(bytearray(max_body + 64))
    while True:
        conn, _ = listener.accept()
        with conn:
            _serve_connection(conn, layer, head, body)


def start_raw(layer: Layer, processes: int, max_body: int) -> tuple[str, list[multiprocessing.Process]]:
    """``processes`` forked processes accepting on one listening socket, one thread each."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_raw_process, args=(listener, layer, max_body), daemon=True)
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    port = listener.getsockname()[1]
    listener.close()
    return f"127.0.0.1:{port}", workers


# --- the service ----------------------------------------------------------------------------


# --- the clients ----------------------------------------------------------------------------


def binary_request(X: np.ndarray) -> tuple[bytes, int]:
    """What tritonclient sends for one FP32 input and a binary ``probabilities`` output."""
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "pixels",
                    "shape": list(X.shape),
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": X.nbytes},
                }
            ],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
        }
    ).encode()
    return head + X.tobytes(), len(head)


def probabilities_of(body: bytes, header_length: int, rows: int) -> np.ndarray:
    head = json.loads(body[:header_length])
    (output,) = [o for o in head["outputs"] if o["name"] == "probabilities"]
    return np.frombuffer(body, np.float32, offset=header_length, count=int(np.prod(output["shape"]))).reshape(rows, -1)


def post(conn: http.client.HTTPConnection, body: bytes, header_length: int, key: str) -> tuple[bytes, int]:
    headers = {HEADER: str(header_length), "Authorization": f"Bearer {key}", "Content-Length": str(len(body))}
    conn.request("POST", f"/v2/models/{MODEL}/infer", body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {data[:300]!r}")
    return data, int(response.getheader(HEADER))


def rows_per_second(
    host: str, key: str, body: bytes, header_length: int, rows: int, batches: int, threads: int
) -> float:
    """Wall-clock rows/s of ``batches`` requests shared by ``threads`` persistent connections."""
    per_thread = [batches // threads + (i < batches % threads) for i in range(threads)]
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def client(count: int) -> None:
        conn = http.client.HTTPConnection(host, timeout=300)
        try:
            post(conn, body, header_length, key)  # warm the connection and the worker
            barrier.wait()
            for _ in range(count):
                post(conn, body, header_length, key)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            conn.close()

    workers = [threading.Thread(target=client, args=(n,)) for n in per_thread]
    for worker in workers:
        worker.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return rows * batches / elapsed


def check_same_answers(ours: str, raw: str, key: str, layer: Layer, X: np.ndarray) -> None:
    body, header_length = binary_request(X)
    expected = layer(X)
    for host in (ours, raw):
        conn = http.client.HTTPConnection(host, timeout=300)
        data, length = post(conn, body, header_length, key)
        conn.close()
        got = probabilities_of(data, length, len(X))
        if not np.allclose(got, expected, atol=1e-5):
            raise RuntimeError(f"{host} answers differ from the local model by {np.abs(got - expected).max()}")


def serving_workers(master: int) -> list[int]:
    """gunicorn's workers: the master's children but the helpers it starts beside them (job runner, trainer)."""
    return [pid for pid in gunicorn_workers(master) if b"gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()]


# --- CPU accounting (the machine may be shared: CPU per batch is steadier than rows/s) ---------


@dataclass(frozen=True)
class Server:
    name: str
    host: str
    pids: Callable[[], list[int]]


@dataclass(frozen=True)
class Measurement:
    rows_per_second: float
    cpu_ms_per_batch: float
    busiest_share: float
    """The busiest process's share of the server's CPU time: 0.5 when two share the load evenly."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=40, help="requests per measurement (default 40)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds at 512 rows (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="client threads (default 2)")
    parser.add_argument("--sizes", default="128,256,512,1024,1536", help="batch sizes of the sweep")
    args = parser.parse_args(argv)

    layer = softmax_layer()
    n_pixels = layer.weights.shape[0]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        host, service = start_gunicorn(Path(tmp))
        sizes = [int(s) for s in args.sizes.split(",")]
        max_body = max([512, *sizes]) * n_pixels * 4 + (1 << 16)
        raw_host, raw_workers = start_raw(layer, len(serving_workers(service.pid)), max_body)
        ours = Server("service (gunicorn, 2 workers)", host, lambda: serving_workers(service.pid))
        raw = Server("raw socket receiver (2 procs)", raw_host, lambda: [w.pid for w in raw_workers])
        try:
            key = create_user(host)
            check_same_answers(host, raw_host, key, layer, rng.random((16, n_pixels), dtype=np.float32))

            def measure(server: Server, rows: int) -> Measurement:
                body, header_length = binary_request(rng.random((rows, n_pixels), dtype=np.float32))
                pids = server.pids()
                before = [cpu_seconds([pid]) for pid in pids]
                rate = rows_per_second(server.host, key, body, header_length, rows, args.batches, args.threads)
                used = [cpu_seconds([pid]) - cpu for pid, cpu in zip(pids, before, strict=True)]
                total = sum(used)
                return Measurement(rate, total * 1000 / (args.batches + args.threads), max(used) / (total or 1))

            _report_main(measure, ours, raw, args.rounds, args.batches, args.threads)
            _report_sweep(measure, ours, raw, sizes, n_pixels)
        finally:
            for worker in raw_workers:
                worker.kill()
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=60)
    return 0


def _report_main(
    measure: Callable[[Server, int], Measurement], ours: Server, raw: Server, rounds: int, batches: int, threads: int
) -> None:
    runs: dict[str, list[Measurement]] = {ours.name: [], raw.name: []}
    for _ in range(rounds):
        for server in (ours, raw):
            runs[server.name].append(measure(server, 512))
    print(f"{MODEL}: 512 rows per batch, {threads} client threads, {batches} batches a run, {rounds} rounds")
    for name, measured in runs.items():
        rates = [m.rows_per_second for m in measured]
        cpu = statistics.median(m.cpu_ms_per_batch for m in measured)
        shares = [round(m.busiest_share, 2) for m in measured]
        print(f"  {name}: {statistics.median(rates):7.0f} rows/s (runs {[round(r) for r in rates]}), "
              f"server CPU {cpu:5.1f} ms per batch, busiest process's share of it {shares}")
    ratios = [a.rows_per_second / b.rows_per_second for a, b in zip(runs[ours.name], runs[raw.name], strict=True)]
    print(f"  rows/s ratio service / raw, median of the paired rounds: {statistics.median(ratios):.2f} "
          f"(rounds {[round(r, 2) for r in ratios]}; target >= 0.85)")


def _report_sweep(
    measure: Callable[[Server, int], Measurement], ours: Server, raw: Server, sizes: list[int], n_pixels: int
) -> None:
    print("batch sweep:")
    print(f"  {'rows':>6} {'MB':>6} {'service/s':>10} {'raw/s':>10} {'ratio':>6} {'CPU ms/row svc':>15} {'raw':>6}")
    for rows in sizes:
        a, b = measure(ours, rows), measure(raw, rows)
        print(
            f"  {rows:>6} {rows * n_pixels * 4 / 1e6:>6.1f} {a.rows_per_second:>10.0f} {b.rows_per_second:>10.0f} "
            f"{a.rows_per_second / b.rows_per_second:>6.2f} {a.cpu_ms_per_batch / rows:>15.3f} "
            f"{b.cpu_ms_per_batch / rows:>6.3f}"
        )


if __name__ == "__main__":
    sys.exit(main())
