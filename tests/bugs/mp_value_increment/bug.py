"""`v.value += 1` on a shared `multiprocessing.Value`: the read and the write each take the
Value's lock, but not the pair, so two processes can both read the same old value."""
import multiprocessing as mp


def work(v, n):
    for _ in range(n):
        v.value += 1


def run(n_procs, n):
    v = mp.Value("i", 0)
    ps = [mp.Process(target=work, args=(v, n)) for _ in range(n_procs)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    return v.value
