"""An agent process's entry point: `python -I -m grader.agent.bootstrap`.

Kept apart from `grader.agent.agent` so that `__main__` (which the student's code can reach as
`sys.modules["__main__"]`) holds no name that leads to the grader: the agent is reached through
`__import__` alone. A child spawned by multiprocessing re-imports this module as `__mp_main__`
and arms its stack dumps and the audit hook before the student's code is unpickled.
"""

if __name__ == "__main__":
    __import__("grader.agent.agent", fromlist=["main"]).main()
elif __name__ == "__mp_main__":
    __import__("grader.agent.agent", fromlist=["child"]).child()
