"""kill -9 at random moments: every acknowledged record survives, in order, exactly once."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relay.journal import Journal

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 200
ACK_DEADLINE_SECONDS = 20.0

# Appends forever, printing "seq trial counter" after each append returns (= is durable).
CHILD = r"""
import sys
from pathlib import Path
from relay.journal import Journal

directory, trial = Path(sys.argv[1]), int(sys.argv[2])
journal = Journal.open(directory, segment_bytes=2048, max_bytes=1 << 30)
out = sys.stdout
counter = 0
while True:
    counter += 1
    fields = {"idempotency_key": f"{trial}-{counter}", "method": "POST", "path": "/progress/",
              "body": {"trial": trial, "counter": counter, "pad": "x" * (counter % 50)},
              "origin": {"agent": "kill9"}, "observed": None}
    if counter % 7 == 0:
        second = dict(fields, idempotency_key=f"{trial}-{counter}b")
        for envelope in journal.append_many([fields, second]):
            out.write(f"{envelope['seq']} {trial} {counter}\n")
    else:
        envelope = journal.append(fields)
        out.write(f"{envelope['seq']} {trial} {counter}\n")
    out.flush()
"""


def read_acks(process: subprocess.Popen[bytes], wanted: int, buffer: bytearray) -> list[tuple[int, int, int]]:
    """Read complete ack lines until at least `wanted` arrived (or EOF); deadline-bound, no sleeps."""
    assert process.stdout is not None
    acks: list[tuple[int, int, int]] = []
    deadline = time.monotonic() + ACK_DEADLINE_SECONDS
    fd = process.stdout.fileno()
    while len(acks) < wanted:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"child produced only {len(acks)} acks before the deadline"
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buffer.extend(chunk)
        *lines, rest = bytes(buffer).split(b"\n")
        buffer[:] = rest
        acks.extend(tuple(int(x) for x in line.split()) for line in lines)  # type: ignore[misc]
    return acks


@pytest.mark.slow
def test_acknowledged_records_survive_repeated_kill_9(tmp_path: Path) -> None:
    rng = random.Random(1234)
    directory = tmp_path / "journal"
    acknowledged: list[tuple[int, int, int]] = []  # (seq, trial, counter), across all trials
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for trial in range(TRIALS):
        process = subprocess.Popen(
            [sys.executable, "-S", "-c", CHILD, str(directory), str(trial)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        buffer = bytearray()
        try:
            acks = read_acks(process, rng.randint(1, 25), buffer)
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
        # Acks printed before the kill landed are acknowledgements too: drain them.
        assert process.stdout is not None and process.stderr is not None
        tail = buffer + process.stdout.read()
        acks += [tuple(int(x) for x in line.split()) for line in tail.split(b"\n")[:-1]]  # type: ignore[misc]
        errors = process.stderr.read().decode()
        process.wait()
        assert process.returncode == -signal.SIGKILL, errors
        acknowledged += acks

        with Journal.open(directory) as journal:
            stored = {
                record["seq"]: (record["body"]["trial"], record["body"]["counter"]) for record in journal.records()
            }
            seqs = list(stored)
        assert seqs == sorted(set(seqs)), f"trial {trial}: duplicates or disorder"
        missing = [ack for ack in acknowledged if stored.get(ack[0]) != (ack[1], ack[2])]
        assert missing == [], f"trial {trial}: acknowledged records lost or changed: {missing[:5]}"
    assert len(acknowledged) >= TRIALS
