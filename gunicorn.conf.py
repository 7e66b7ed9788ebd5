"""gunicorn settings: several workers, models prepared once by the master before forking."""

import os
import subprocess
import sys

bind = [os.environ.get("MLAAS_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("MLAAS_WORKERS", "2"))
# gthread, with a read timeout (MLAAS_READ_TIMEOUT) and a bound on the threads slow clients hold
# (slow_clients.py and the README's "Reliability"), whose workers share keep-alive clients out
# evenly (balanced_accept.py).
worker_class = "balanced_accept.BalancedThreadWorker"
threads = int(os.environ.get("MLAAS_THREADS", "4"))
# OpenBLAS's threads spin for about 2**28 cycles after each product before they sleep: under load
# the workers' BLAS threads spent a quarter of the CPU time of 512-row v2 requests spinning, taken
# from the other worker and the clients. Here they sleep at once (read when a worker imports numpy).
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
timeout = 300
graceful_timeout = 30
keepalive = 5


def on_starting(server):
    """Create the database and admin key and train the zoo once, in a child process; then start
    the trainer of the defended models (MLAAS_TRAINING_DEFENSES) beside the workers, which serve
    the base zoo at once and pick each defended model up when its training ends.

    Training in the master itself would leave torch's threads behind in every forked
    worker; a child process keeps the workers free of torch.
    """
    subprocess.run([sys.executable, "-m", "app", "prepare"], check=True)
    server.defense_trainer = subprocess.Popen([sys.executable, "-m", "app", "train-defenses"])


def worker_exit(server, worker):
    """Write the worker's queued query-log rows before it goes."""
    module = sys.modules.get("wsgi")
    if module is not None:
        module.app.extensions["mlaas"].query_log.close()


def when_ready(server):
    """Start the attack-job runner (``app.jobs``) beside the workers, never inside one: it needs the bound URL."""
    host, port = server.LISTENERS[0].sock.getsockname()[:2]
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    server.job_runner = subprocess.Popen([sys.executable, "-m", "app.jobs", "--url", url])


def on_exit(server):
    """Stop the job runner (running jobs stop and are queued again at the next start) and the
    trainer of the defended models (a model it was training is queued again)."""
    for child in (getattr(server, "job_runner", None), getattr(server, "defense_trainer", None)):
        if child is not None:
            child.terminate()
            child.wait()
