"""`v.value += 1` under `v.get_lock()` (correct twin): the read-modify-write is one step."""
import multiprocessing as mp


def work(v, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def run(n_procs, n):
    v = mp.Value("i", 0)
    ps = [mp.Process(target=work, args=(v, n)) for _ in range(n_procs)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    return v.value
