"""What exercise tests import: verdicts to raise and the helpers that phrase them well.

The public facade of `grader.judge` for exercise authors (their tests import only this): the
helpers live in `grader.judge.expect_*`, the verdicts and how a reply becomes one in
`grader.judge.verdicts`.

    from grader.testing import expect_equal, Race

    @requirement("values")
    def test_small(student):
        expect_equal(student.call("parallel_count", 2, 10), 20, "parallel_count(2, 10)")
"""

from __future__ import annotations

from grader.judge.evidence import record_evidence  # noqa: F401
from grader.judge.expect_asyncio import (  # noqa: F401
    asyncio_deadlock_verdict,
    deprecated_feedback,
    exception_hint,
    expect_all_awaited,
    expect_asyncio_clean,
    expect_bystanders_untouched,
    expect_cancellation_respected,
    expect_no_asyncio_deadlock,
    expect_no_blocking,
    expect_no_pending_destroyed,
)
from grader.judge.expect_celery import (  # noqa: F401
    canvas_step,
    celery_fault,
    celery_run,
    expect_no_sync_get,
    expect_step,
    expect_steps,
    expect_survives_worker_loss,
    task_step,
)
from grader.judge.expect_concurrency import (  # noqa: F401
    CHILD_WORDS,
    TRACE_EVENTS,
    check_report,
    expect_kept_busy,
    expect_no_child_exceptions,
    expect_no_lost_update,
    expect_no_races,
    expect_nothing_left,
    expect_parallel,
    tampering_evidence,
)
from grader.judge.expect_gpu import (  # noqa: F401
    NO_GPU,
    expect_clean_kernels,
    expect_kernels_compile,
    expect_only_cuda_headers,
    expect_shared_memory_synchronised,
    kernel_report,
    require_gpu,
)
from grader.judge.expect_locks import (  # noqa: F401
    expect_no_lock_cycles,
    expect_no_self_deadlock,
    raise_for_locks,
)
from grader.judge.expect_modern import expect_current_api  # noqa: F401
from grader.judge.expect_values import expect_close, expect_dtype, expect_equal  # noqa: F401
from grader.judge.proxy import Student  # noqa: F401
from grader.judge.varied import draw_inputs, for_varied_inputs  # noqa: F401
from grader.judge.verdicts import (  # noqa: F401
    Crashed,
    Deadlock,
    Failed,
    NotRun,
    Race,
    SandboxFault,
    StudentError,
    Timeout,
    Verdict,
)
from grader.judge.verdicts.reply import raise_for  # noqa: F401
from grader.judge.verdicts.wording import describe_call, student_location  # noqa: F401
from grader.protocol import Reply  # noqa: F401
from grader.requirements import requirement  # noqa: F401
