"""Code that runs inside the sandbox: the supervisor (limits, stacks, accounting) and the agent (student code)."""
