"""The program a swarm job's task runs (``python3 -c``, any Python >= 3.9 in the lab image).

It starts the lab's init (services, as in a local lab), runs the steps of ``$REMOTEFIX_JOB`` as
the local engine's exec would (``/bin/sh -c``, the image's environment, killed with its process
group at the step's timeout) and prints what happened as JSON lines on stdout: output in base64
chunks (no log line is long enough for a log driver to split), then one line per step, then
``{"done": true}``. The controller reads them back from the service's logs.
"""

import base64
import json
import os
import signal
import subprocess
import sys
import time

CAP = 16 * 1024 * 1024
CHUNK = 6000
INIT = "/usr/local/sbin/remotefix-lab-init"
READY = "/run/remotefix-lab/ready"


def emit(**fields):
    sys.stdout.write(json.dumps(fields, sort_keys=True) + "\n")
    sys.stdout.flush()


def chunks(step, stream, data):
    for start in range(0, len(data), CHUNK):
        piece = base64.b64encode(data[start : start + CHUNK]).decode()
        emit(step=step, stream=stream, b64=piece)


def start_lab(wait):
    if not os.access(INIT, os.X_OK):
        return None
    subprocess.Popen([INIT], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + wait
    while not os.path.exists(READY):
        if time.monotonic() > deadline:
            return f"the lab's init was not ready in {wait}s"
        time.sleep(0.05)
    return None


def run(number, step):
    started = time.monotonic()
    child = subprocess.Popen(
        ["/bin/sh", "-c", step["run"]],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = child.communicate(timeout=step["timeout"])
        code, timed_out = child.returncode, False
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        out, err = child.communicate()
        code, timed_out = None, True
    chunks(number, "out", out[:CAP])
    chunks(number, "err", err[:CAP])
    truncated = len(out) > CAP or len(err) > CAP
    duration = round(time.monotonic() - started, 3)
    emit(step=number, exit=code, timed_out=timed_out, truncated=truncated, duration_s=duration)
    return not timed_out


def read(number, step):
    try:
        with open(step["file"], "rb") as handle:
            data = handle.read(CAP + 1)
    except OSError as exc:
        emit(step=number, missing=exc.strerror or str(exc))
        return True
    chunks(number, "file", data[:CAP])
    emit(step=number, exit=0, truncated=len(data) > CAP)
    return True


def main():
    job = json.loads(os.environ["REMOTEFIX_JOB"])
    problem = start_lab(job.get("init_wait", 60))
    if problem:
        emit(error=problem)
    else:
        for number, step in enumerate(job["steps"]):
            if not (read(number, step) if "file" in step else run(number, step)):
                break  # a timed-out step ends the run, as it does locally
    emit(done=True)


if __name__ == "__main__":  # python3 -c runs it as __main__; an import does not
    main()
