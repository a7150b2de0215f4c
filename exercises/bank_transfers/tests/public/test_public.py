"""Public tests for bank_transfers: run them with `grader check bank_transfers`."""

from grader.testing import expect_equal, requirement


def _sequential(mod):
    bank = mod.Bank({"alice": 50, "bob": 20})
    ok = bank.transfer("alice", "bob", 30)
    refused = bank.transfer("bob", "alice", 80)
    return [ok, refused, bank.balance("alice"), bank.balance("bob"), bank.total()]


def _both_ways(mod):
    import threading

    bank = mod.Bank({"alice": 1000, "bob": 1000})

    def run(src, dst):
        for _ in range(200):
            bank.transfer(src, dst, 3)

    pairs = [("alice", "bob"), ("bob", "alice")]
    threads = [threading.Thread(target=run, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return bank.total()


@requirement("transfer")
def test_sequential_use(student):
    """One transfer succeeds, one is refused for lack of funds"""
    expect_equal(student.run(_sequential), [True, False, 20, 50, 70],
                 "transfer(alice->bob 30), transfer(bob->alice 80), balances, total")


@requirement("money-kept", "no-deadlock")
def test_two_threads_keep_the_money(student):
    """Two threads transferring in opposite directions keep the total"""
    expect_equal(student.run(_both_ways, timeout=10), 2000,
                 "total() after 200 transfers each way from two threads")
