#!/usr/bin/env python3
"""Drain N no-op jobs through procrastinate (psycopg 3) and report throughput.

    python3 procrastinate_drain.py --dsn postgresql://postgres@127.0.0.1:PORT/DB \
        --jobs N --workers W --batch B

W = the worker's `concurrency` (one Worker, W jobs in flight on one asyncio
loop), as `procrastinate worker --concurrency W` runs it. B is accepted for a
common CLI but unused: procrastinate has no claim batch size, its
procrastinate_fetch_job_v2() takes one job per call (LIMIT 1), and a Worker
fetches serially even with concurrency > 1. Last stdout line is one JSON object.
"""

import argparse
import asyncio
import json
import sys
import logging
import time

import procrastinate

TIMEOUT_S = 30 * 60
CHUNK = 5000  # jobs per batch_defer statement


async def main(a: argparse.Namespace) -> dict:
    # Its "App is instantiated in __main__" warning is about the CLI importing
    # the app twice; here the worker runs in this very module, so it is moot.
    logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)
    # Pool sized so the W running jobs' finish_job calls, the LISTEN connection
    # and the heartbeat / abort pollers never queue for a connection (psycopg's
    # default pool is 4 connections).
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=a.dsn, min_size=a.workers + 2, max_size=a.workers + 2
        )
    )

    @app.task(name="noop")
    async def noop() -> None:
        pass

    async with app.open_async():
        # Same as `procrastinate schema --apply`.
        await app.schema_manager.apply_schema_async()

        # batch_defer_async is one INSERT per call (procrastinate_defer_jobs_v1).
        for start in range(0, a.jobs, CHUNK):
            await noop.batch_defer_async(*({} for _ in range(min(CHUNK, a.jobs - start))))

        # wait=False: the worker stops once the queue is empty and waits for its
        # in-flight jobs; a timeout cancels it, which it turns into a clean stop.
        timed_out = False
        t0 = time.perf_counter()
        try:
            await asyncio.wait_for(
                app.run_worker_async(concurrency=a.workers, wait=False), TIMEOUT_S
            )
        except asyncio.TimeoutError:
            timed_out = True
        seconds = time.perf_counter() - t0

        async with app.connector.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'succeeded'),"
                " count(*) FILTER (WHERE status IN ('todo', 'doing'))"
                " FROM procrastinate_jobs"
            )
            done, left = await cur.fetchone()

    print(
        f"procrastinate: {done}/{a.jobs} jobs in {seconds:.2f}s "
        f"({done / seconds:.0f} jobs/s), concurrency={a.workers} (no batch knob), "
        f"{left} left in queue{' (TIMED OUT)' if timed_out else ''}",
        file=sys.stderr,
    )
    return {
        "name": "procrastinate",
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
    p.add_argument("--batch", type=int, default=100, help="unused (no such knob)")
    print(json.dumps(asyncio.run(main(p.parse_args()))))
