import threading
def run_in_threads(func, args_list):
    distinct = list(dict.fromkeys(args_list))        # one call per distinct argument tuple
    got = {}
    def work(a):
        got[a] = func(*a)
    threads = [threading.Thread(target=work, args=(a,)) for a in distinct]
    for t in threads: t.start()
    for t in threads: t.join()
    return [got[a] for a in args_list]
