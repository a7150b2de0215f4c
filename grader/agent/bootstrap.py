"""An agent process's entry point: `python -I -m grader.agent.bootstrap`.

Kept apart from `grader.agent.agent` so that `__main__` (which the student's code can reach as
`sys.modules["__main__"]`) holds no name that leads to the grader: the agent is reached through
`__import__` alone. A child spawned by multiprocessing re-imports this module as `__mp_main__`:
nothing happens then, it was armed first thing (`grader.agent.agent.arm_child`).
"""

if __name__ == "__main__":
    __import__("grader.agent.agent", fromlist=["main"]).main()
