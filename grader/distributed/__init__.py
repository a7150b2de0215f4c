"""Grading across many machines: Celery workers (`grader worker`) serving queues by capability,
and `grader grade-all --distributed` sending one job per submission and recording the results.

- `app`: the Celery app and its settings (`[distributed]` in course.toml)
- `routing`: exercise → queue (`cpu`, `mpi`, `gpu`)
- `jobs`: a submission packed into a job message, and back
- `tasks`: the grading task run by workers (retries platform failures, never scores them 0)
- `submit`: the submitter (sends, collects, re-sends what went missing)
- `worker`: `grader worker`
- `local`: a private redis-server and worker processes on this machine (tests, benchmarks)
"""
