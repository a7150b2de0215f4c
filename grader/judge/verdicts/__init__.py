"""Verdicts: where what a test saw becomes what the student is told. The one path:

- `kinds`: the verdicts themselves (`Failed`, `StudentError`, `Timeout`, `Deadlock`, `Race`,
  `Crashed`, `NotRun`) and `SandboxFault`, the platform's failure; each names its `Outcome`.
- `reply`: a sandbox `Reply` that is not a value becomes a verdict (`verdict_for`, `raise_for`),
  a hang the lockorder check saw coming explained by `locks`.
- the `grader.judge.expect_*` helpers (imported by exercise tests through `grader.testing`)
  judge a value or a check's report and raise one of the kinds.
- `record`: how the test ended (a verdict raised, an assert, a skip, a broken test) becomes the
  test's record (`Outcome`, message, capped evidence); only `PASSED` earns points
  (`grader.results.score_records`).
"""

from grader.judge.verdicts.kinds import *  # noqa: F403 - the kinds, as `verdicts.Failed`
