"""start() then join() inside the loop: the processes take turns, never run at once."""
import multiprocessing


def run(func, args_list):
    """func(*args) for each args in its own process; the exit codes."""
    procs = [multiprocessing.Process(target=func, args=args) for args in args_list]
    for p in procs:
        p.start()
        p.join()
    return [p.exitcode for p in procs]
