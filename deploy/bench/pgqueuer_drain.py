#!/usr/bin/env python3
"""Drain N no-op jobs through PgQueuer (asyncpg) and report throughput.

    python3 pgqueuer_drain.py --dsn postgresql://postgres@127.0.0.1:PORT/DB \
        --jobs N --workers W --batch B

W = number of QueueManager consumers, each on its own asyncpg connection (the
way PgQueuer scales a worker: one LISTEN connection + dequeue loop per manager);
B = batch_size of each manager's dequeue (FOR UPDATE SKIP LOCKED ... LIMIT B).
All consumers share one asyncio loop in this process, like procrastinate's
single worker. Last stdout line is one JSON object.
"""

import argparse
import asyncio
import json
import sys
import time

import asyncpg
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Job
from pgqueuer.qm import QueueManager
from pgqueuer.queries import Queries
from pgqueuer.domain.types import QueueExecutionMode

ENTRYPOINT = "noop"
CHUNK = 5000  # jobs per bulk enqueue statement
TIMEOUT_S = 30 * 60


async def main(a: argparse.Namespace) -> dict:
    admin = await asyncpg.connect(a.dsn)
    q = Queries(AsyncpgDriver(admin))
    # Same as `pgq install` (durability=durable, the default: logged tables).
    await q.install()

    # Bulk enqueue: the list form of Queries.enqueue is one INSERT ... UNNEST.
    for start in range(0, a.jobs, CHUNK):
        n = min(CHUNK, a.jobs - start)
        await q.enqueue([ENTRYPOINT] * n, [None] * n, [0] * n)

    conns = [await asyncpg.connect(a.dsn) for _ in range(a.workers)]
    managers = []
    for conn in conns:
        qm = QueueManager(Queries(AsyncpgDriver(conn)))

        @qm.entrypoint(ENTRYPOINT)
        async def noop(job: Job) -> None:
            pass

        managers.append(qm)

    # drain mode: each manager returns once no job is 'queued' and its own
    # in-flight jobs are done and their status log buffer is flushed.
    t0 = time.perf_counter()
    runs = [
        asyncio.create_task(qm.run(batch_size=a.batch, mode=QueueExecutionMode.drain))
        for qm in managers
    ]
    _, pending = await asyncio.wait(runs, timeout=TIMEOUT_S)
    if pending:  # timed out: ask every manager to stop, let them finish cleanly
        for qm in managers:
            qm.shutdown.set()
        await asyncio.wait(pending)
    seconds = time.perf_counter() - t0
    for r in runs:
        if r.exception():
            raise r.exception()

    names = q.qbe.qualified
    done = await admin.fetchval(
        f"SELECT count(DISTINCT job_id) FROM {names.queue_table_log}"
        " WHERE status = 'successful'"
    )
    left = await admin.fetchval(f"SELECT count(*) FROM {names.queue_table}")
    for conn in conns:
        await conn.close()
    await admin.close()

    print(
        f"pgqueuer: {done}/{a.jobs} jobs in {seconds:.2f}s "
        f"({done / seconds:.0f} jobs/s), workers={a.workers} batch={a.batch}, "
        f"{left} left in queue{' (TIMED OUT)' if pending else ''}",
        file=sys.stderr,
    )
    return {
        "name": "pgqueuer",
        "jobs": a.jobs,
        "workers": a.workers,
        "batch": a.batch,
        "seconds": round(seconds, 3),
        "jobs_per_s": round(done / seconds, 1),
        "lost": a.jobs - done,
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dsn", required=True)
    p.add_argument("--jobs", type=int, default=20000)
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--batch", type=int, default=100)
    # Plain asyncio on purpose (procrastinate's CLI uses it too); `pgq run`
    # would pick uvloop when installed.
    print(json.dumps(asyncio.run(main(p.parse_args()))))
