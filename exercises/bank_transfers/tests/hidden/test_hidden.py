"""Hidden tests for bank_transfers.

The three bugs of this exercise are each judged by the check made for them, not by luck:
- lock-order deadlock: the lockorder check records which lock each thread holds while it waits
  for another and reports the cycle A -> B, B -> A even when this run did not hang;
- money created or destroyed: lost updates and check-then-act overdrafts under forced thread
  switches (preempt), and every write of a balance checked for a consistent lock (lockset);
- one lock for the whole bank: a transfer is held in the middle of its work (while it holds a
  lock, its amount or a balance waits when it is added, subtracted or compared) while a transfer
  on two other accounts must still finish.
"""

from hypothesis import strategies as st

from grader.testing import (
    Failed, Race, expect_equal, expect_no_lock_cycles, expect_no_lost_update, expect_no_races,
    expect_no_self_deadlock, for_varied_inputs, raise_for_locks, requirement,
)

START = 100  # every account of the randomised probes starts with this much


# ---------------------------------------------------------------- probes (run in the sandbox)

def _sequential(mod):
    bank = mod.Bank({"alice": 50, "bob": 20, "carol": 0})
    steps = [bank.transfer("alice", "bob", 30), bank.transfer("bob", "carol", 50),
             bank.transfer("bob", "carol", 45), bank.transfer("carol", "alice", 45),
             bank.transfer("carol", "bob", 10)]
    return {"results": steps, "balances": [bank.balance(a) for a in ("alice", "bob", "carol")],
            "total": bank.total()}


def _invalid(mod):
    import threading

    bank = mod.Bank({"a": 10, "b": 10})
    out = {}
    for name, args in [("same", ("a", "a", 5)), ("zero", ("a", "b", 0)),
                       ("negative", ("a", "b", -3)), ("unknown", ("a", "zzz", 1))]:
        box = []

        def attempt():
            try:
                box.append(("returned", bank.transfer(*args)))
            except Exception as exc:  # noqa: BLE001 - the type is what is judged
                box.append(("raised", type(exc).__name__))

        t = threading.Thread(target=attempt, daemon=True)
        t.start()
        t.join(2)
        out[name] = list(box[0]) if box else ["hung", None]
        if not box:
            break  # a transfer that hangs holds its lock: the rest would hang too
    out["balances"] = [bank.balance("a"), bank.balance("b")] if all(
        v[0] != "hung" for v in out.values()) else None
    return out


def _opposite_transfers(mod, rounds):
    import threading

    bank = mod.Bank({"a": 1000, "b": 1000})

    def run(src, dst):
        for _ in range(rounds):
            bank.transfer(src, dst, 1)

    # One after the other: this run cannot hang, but the lock orders are recorded all the same.
    for src, dst in (("a", "b"), ("b", "a")):
        t = threading.Thread(target=run, args=(src, dst), name=f"transfers {src}->{dst}")
        t.start()
        t.join()
    return [bank.balance("a"), bank.balance("b")]


def _any_accounts(mod, names, transfers, start):
    """A bank whose accounts are `names`, given in that order; `transfers` ((i, j, amount):
    names[i] -> names[j]) and then one transfer between every two accounts run in one thread,
    then total() and every balance() in another, one after the other (the lock orders are
    recorded all the same, and nothing can hang)."""
    import threading

    bank = mod.Bank({name: start for name in names})
    pairs = [(i, j, amount) for i, j, amount in transfers if i != j]
    pairs += [(i, j, 1) for i in range(len(names)) for j in range(len(names)) if i < j]
    out = {}

    def move():
        for i, j, amount in pairs:
            bank.transfer(names[i], names[j], amount)

    def audit():
        out["total"] = bank.total()
        out["balances"] = {name: bank.balance(name) for name in names}

    for name, work in (("transfers", move), ("auditor", audit)):
        t = threading.Thread(target=work, name=name)
        t.start()
        t.join()
    return out


def _random_transfers(mod, seed, n_threads, n_transfers, n_accounts, start):
    import random
    import threading

    names = [f"acct{i}" for i in range(n_accounts)]
    bank = mod.Bank({name: start for name in names})
    done = []

    def worker(k):
        rng = random.Random(f"{seed}:{k}")
        ok = 0
        for _ in range(n_transfers):
            src, dst = rng.sample(names, 2)
            ok += bool(bank.transfer(src, dst, rng.randint(1, start // 2)))
        done.append(ok)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"balances": {name: bank.balance(name) for name in names}, "total": bank.total(),
            "succeeded": sum(done)}


def _drain(mod, rounds, n_threads, k):
    """Each round: `pool` holds exactly k * 10; n_threads threads each try transfer(pool, own, 10)
    until one fails. Exactly k transfers may succeed, and pool must end at 0."""
    import threading

    worst = None
    for r in range(rounds):
        names = [f"t{i}" for i in range(n_threads)]
        bank = mod.Bank({"pool": 10 * k, **{n: 0 for n in names}})
        wins = []

        def worker(name):
            while bank.transfer("pool", name, 10):
                wins.append(name)

        threads = [threading.Thread(target=worker, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pool = bank.balance("pool")
        if pool != 0 or len(wins) != k:
            worst = {"round": r, "pool": pool, "succeeded": len(wins)}
            break
    return worst


def _watched_drain(mod, n_threads, attempts, k):
    """n_threads threads each try `attempts` transfers of 10 out of `pool` (which holds k * 10, so
    most tries are refused) while a watcher thread keeps reading every balance: the lowest
    balance it ever saw, and where."""
    import threading

    names = [f"t{i}" for i in range(n_threads)]
    bank = mod.Bank({"pool": 10 * k, **{n: 0 for n in names}})
    seen = {"lowest": 0, "account": None, "reads": 0}
    stop = threading.Event()

    def drainer(name):
        for _ in range(attempts):
            bank.transfer("pool", name, 10)

    def watcher():
        while not stop.is_set():
            for account in ("pool", *names):
                value = bank.balance(account)
                seen["reads"] += 1
                if isinstance(value, int) and value < seen["lowest"]:
                    seen["lowest"], seen["account"] = value, account

    watching = threading.Thread(target=watcher, name="watcher")
    watching.start()
    threads = [threading.Thread(target=drainer, args=(n,), name=f"drainer {n}") for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watching.join()
    return {**seen, "balances": {n: bank.balance(n) for n in ("pool", *names)}}


def _snapshots(mod, n_threads, n_transfers, n_totals):
    import random
    import threading

    names = ["a", "b", "c", "d"]
    bank = mod.Bank({n: 100 for n in names})
    seen = []

    def mover(k):
        rng = random.Random(k)
        for _ in range(n_transfers):
            src, dst = rng.sample(names, 2)
            bank.transfer(src, dst, rng.randint(1, 50))

    def auditor():
        for _ in range(n_totals):
            seen.append(bank.total())

    threads = [threading.Thread(target=mover, args=(k,)) for k in range(n_threads)]
    threads.append(threading.Thread(target=auditor))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(set(seen))


HOLD_MOMENTS = 6  # the in-lock moments of the held transfer tried by the overlap test, one run each


def _overlap(mod, moments):
    """Hold transfer('a', 'b', 10) in the middle of its work, then run transfer('c', 'd', 5).

    The middle of its work is a moment when the transfer holds a lock (any tracked Lock/RLock)
    and adds, subtracts, compares or converts its amount or the balance of a or b: those are
    ints that wait there (at most 3 s) until the probe lets them go. One run per such moment,
    k = 1, 2, ... (at most `moments`); every one must let the other transfer finish, and the
    first that does not is the answer. A transfer that never does arithmetic while it holds a lock
    (it takes none, or made everything a plain int before locking) is held at its first arithmetic
    instead: whatever it does before taking its lock, it is judged inside the lock if it can be."""
    import threading
    import time

    from grader.checks.holding import holds_a_lock

    def attempt(k):
        """Run both transfers, holding the slow one at its k-th in-lock arithmetic (k = 0: at its
        first arithmetic, wherever it is)."""
        inside, release = threading.Event(), threading.Event()
        slow_ident, seen = [], [0]

        def hold():
            if not slow_ident or threading.get_ident() != slow_ident[0] or inside.is_set():
                return
            if k:
                if not holds_a_lock():
                    return
                seen[0] += 1
                if seen[0] != k:
                    return
            inside.set()
            release.wait(3)

        def waiting(name):
            op = getattr(int, name)

            def method(self, *args):
                hold()
                return op(self, *args)

            method.__name__ = name
            return method

        held_ops = ("__add__", "__radd__", "__sub__", "__rsub__", "__lt__", "__le__", "__gt__",
                    "__ge__", "__eq__", "__ne__", "__int__", "__index__")
        Held = type("Held", (int,), {name: waiting(name) for name in held_ops}
                    | {"__hash__": int.__hash__, "__slots__": ()})

        bank = mod.Bank({"a": Held(100), "b": Held(100), "c": 100, "d": 100})
        results = {}

        def slow():
            slow_ident.append(threading.get_ident())
            results["a->b"] = bank.transfer("a", "b", Held(10))

        def fast():
            results["c->d"] = bank.transfer("c", "d", 5)

        t_slow = threading.Thread(target=slow, daemon=True)
        t_slow.start()
        deadline = time.monotonic() + 3
        while not inside.is_set() and t_slow.is_alive() and time.monotonic() < deadline:
            inside.wait(0.005)
        if not inside.is_set():
            release.set()
            t_slow.join(3)
            return {"held": False}
        t_fast = threading.Thread(target=fast, daemon=True)
        t_fast.start()
        t_fast.join(2.0)
        overlapped = not t_fast.is_alive()
        release.set()
        t_slow.join(3)
        t_fast.join(3)
        return {"held": True, "overlapped": overlapped, "results": results,
                "balances": [bank.balance(x) for x in "abcd"]}

    last = None
    for k in range(1, moments + 1):
        run = attempt(k)
        if not run["held"]:
            break
        last = dict(run, moment=k)
        if not run["overlapped"]:
            break
    return last or dict(attempt(0), moment=0)


# ---------------------------------------------------------------- tests

@requirement("transfer")
def test_sequential_semantics(student):
    """transfer moves money, refuses (False) when funds are short; balance and total agree"""
    got = student.run(_sequential)
    expect_equal(got["results"], [True, True, False, True, False],
                 "transfer(alice->bob 30), (bob->carol 50), (bob->carol 45), (carol->alice 45), "
                 "(carol->bob 10)",
                 hint="A transfer returns True when it moved the money and False, moving nothing, "
                      "when the source has less than the amount.")
    expect_equal(got["balances"], [65, 0, 5], "the balances of alice, bob, carol afterwards",
                 hint="A refused transfer (carol holds 5, not 10) moves nothing at all.")
    expect_equal(got["total"], 70, "total() afterwards")


@requirement("invalid")
def test_invalid_transfers(student):
    """Same account or non-positive amount: ValueError; unknown account: KeyError"""
    got = student.run(_invalid, timeout=8)
    if got.get("same") == ["hung", None]:
        raise Failed("transfer('a', 'a', 5) never returned: with one lock per account, taking the "
                     "locks of src and dst takes the same Lock twice when src == dst, and a "
                     "threading.Lock waits for itself forever. Raise ValueError before taking any "
                     "lock when src == dst.")
    expected = {"same": ["raised", "ValueError"], "zero": ["raised", "ValueError"],
                "negative": ["raised", "ValueError"], "unknown": ["raised", "KeyError"]}
    calls = {"same": "transfer('a', 'a', 5)", "zero": "transfer('a', 'b', 0)",
             "negative": "transfer('a', 'b', -3)", "unknown": "transfer('a', 'zzz', 1)"}
    for key, want in expected.items():
        if got.get(key) != want:
            did = got.get(key) or ["hung", None]
            shown = {"returned": f"returned {did[1]!r}", "raised": f"raised {did[1]}",
                     "hung": "never returned"}[did[0]]
            raise Failed(f"{calls[key]} {shown}; it must raise {want[1]} (see the statement).")
    expect_equal(got["balances"], [10, 10], "the balances after the refused transfers",
                 hint="A refused transfer must not move any money.")


@requirement("no-deadlock")
def test_no_lock_order_deadlock(student):
    """Locks taken in one global order: no A->B against B->A deadlock (lock-order check)"""
    reply = student.reply(_opposite_transfers, 20, checks={"lockorder": {}}, timeout=4,
                          what="transfers a->b in one thread and b->a in another")
    raise_for_locks(reply)
    what = "transfer('a', 'b', 1) in one thread and transfer('b', 'a', 1) in another"
    expect_no_self_deadlock(reply, what)
    expect_no_lock_cycles(reply, what, hint=(
        "Take the two accounts' locks in an order that does not depend on the direction of the "
        "transfer, for example sorted by account name: `first, second = sorted((src, dst))`."))
    expect_equal(reply.value, [1000, 1000], "the balances after 20 transfers each way")


# Any account names, given in any order (the order a dict of balances happens to have), and
# transfers among them in any direction.
ACCOUNTS = st.lists(st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=5), min_size=2,
                    max_size=6, unique=True)
TRANSFERS = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(1, 60)),
                     max_size=12)


def _accounts_case(names_transfers):
    names, transfers = names_transfers
    return names, [(i % len(names), j % len(names), amount) for i, j, amount in transfers]


@requirement("no-deadlock")
def test_no_deadlock_whatever_the_accounts(student, seed):
    """No lock-order cycle whatever the account names, their order and the transfers' directions"""
    def check(case):
        names, transfers = _accounts_case(case)
        what = (f"Bank({{{', '.join(f'{n!r}: {START}' for n in names)}}}): transfers between "
                "its accounts in one thread, then total() in another")
        reply = student.reply(_any_accounts, names, transfers, START, checks={"lockorder": {}},
                              timeout=4, what=what)
        raise_for_locks(reply)
        expect_no_self_deadlock(reply, what)
        expect_no_lock_cycles(reply, what, hint=(
            "Every method that takes several accounts' locks (transfer, total) must take them "
            "in one global order that does not depend on how the accounts were given or on the "
            "direction of the transfer, for example sorted by account name."))
        expect_equal(reply.value["total"], START * len(names), f"total() after {what}")
        expect_equal(sum(reply.value["balances"].values()), START * len(names),
                     f"the sum of all balances after {what}")

    for_varied_inputs(seed, st.tuples(ACCOUNTS, TRANSFERS), check, count=6,
                      describe=lambda case: f"accounts {case[0]}")


def _expect_money_kept(got, n_accounts, what, reply=None):
    """Total unchanged, no balance below zero; a Race verdict when forced switches broke it."""
    want = n_accounts * START
    negative = {k: v for k, v in got["balances"].items() if not (isinstance(v, int) and v >= 0)}
    summed = sum(v for v in got["balances"].values() if isinstance(v, int))
    if reply is not None and summed != want:
        expect_no_lost_update(summed, want, f"the sum of all balances after {what}", reply,
                              hint="Money was created or destroyed: hold the locks of both "
                                   "accounts around the check and both updates.")
    if negative:
        raise Race(f"After {what} some balances are negative ({negative}): a transfer checked the "
                   "funds and another thread emptied the account before the money was taken. "
                   "Check the balance and move the money while holding the account's lock.",
                   balances=got["balances"])
    expect_equal(summed, want, f"the sum of all balances after {what}")
    expect_equal(got["total"], want, f"total() after {what}")


@requirement("money-kept")
def test_money_kept_under_forced_switches(student, seed):
    """No money is created or destroyed when threads are switched in the middle of a transfer"""
    got = student.run(_random_transfers, seed, 4, 300, 4, START, timeout=8,
                      checks={"preempt": {"seed": seed}, "lockorder": {}},
                      what="4 threads doing 300 random transfers each among 4 accounts")
    _expect_money_kept(got, 4, "4 threads doing 300 random transfers each among 4 accounts",
                       student.last)


@requirement("money-kept")
def test_no_races_under_lockset(student, seed):
    """Every write of a balance holds that account's lock (lockset check)"""
    got = student.run(_random_transfers, seed, 4, 100, 4, START, timeout=6,
                      checks={"lockset": {}, "lockorder": {}},
                      what="4 threads doing 100 random transfers each")
    expect_no_races(student.last, "the balances updated by transfer() from 4 threads",
                    hint="Hold the locks of both accounts whenever you read and change their "
                         "balances.")
    _expect_money_kept(got, 4, "4 threads doing 100 random transfers each")


@requirement("never-negative")
def test_no_overdraft_under_forced_switches(student, seed):
    """Concurrent transfers from one account never take more than it holds"""
    worst = student.run(_drain, 30, 4, 3, timeout=8,
                        checks={"preempt": {"seed": seed, "probability": 0.2}},
                        what="4 threads emptying an account of 30 in transfers of 10")
    if worst is not None:
        raise Race(
            f"4 threads emptied an account holding 30 in transfers of 10 (forced thread switches, "
            f"seed {seed}): {worst['succeeded']} transfers succeeded and the account ended at "
            f"{worst['pool']}, but exactly 3 may succeed and it must end at 0. A transfer checked "
            "the funds, then another thread took the money before this one did: check the "
            "balance and move the money in one step, under the account's lock.", **worst)


@requirement("never-negative")
def test_no_balance_ever_negative(student, seed):
    """balance() read by another thread while transfers run never shows a negative balance"""
    what = "4 threads each trying 25 transfers of 10 out of an account holding 30"
    got = student.run(_watched_drain, 4, 25, 3, timeout=8,
                      checks={"preempt": {"seed": seed, "probability": 0.2}}, what=what)
    if got["lowest"] < 0:
        raise Race(
            f"While {what} (forced thread switches, seed {seed}), another thread calling "
            f"balance({got['account']!r}) saw {got['lowest']}: for a moment the account was "
            "below zero. A transfer must not take money it then has to give back, and balance() "
            "must not read an account while a transfer holds its lock: check the funds first, "
            "and read the balance under the account's lock.", lowest=got["lowest"],
            account=got["account"], reads=got["reads"])
    if got["reads"] == 0:
        raise Failed(f"While {what}, balance() never returned to the grader's watching thread.")
    expect_equal(got["balances"]["pool"], 0, f"the balance of the drained account after {what}")


@requirement("consistent-total")
def test_total_is_a_consistent_snapshot(student):
    """total() called while transfers run never sees money in flight"""
    seen = student.run(_snapshots, 3, 200, 200, timeout=6,
                       checks={"preempt": {"seed": 1, "probability": 0.1}, "lockorder": {}},
                       what="total() called 200 times while 3 threads transfer")
    if seen != [400]:
        raise Failed(f"total() called while 3 threads were transferring returned {seen[:8]}; the "
                     "bank always holds 400. total() added up balances while a transfer had "
                     "taken money from one account and not yet added it to the other: hold "
                     "every account's lock (taken in the same global order as in transfer) while "
                     "adding up.", seen=seen[:20])


@requirement("disjoint-overlap")
def test_disjoint_transfers_overlap(student):
    """Transfers between different accounts run at the same time (no lock for the whole bank)"""
    got = student.run(_overlap, HOLD_MOMENTS, timeout=10,
                      what="transfer('a', 'b', 10) and transfer('c', 'd', 5)")
    if not got["held"]:
        raise Failed("transfer('a', 'b', 10) never added or subtracted its amount, so the grader "
                     "could not hold it in the middle of its work. Move the money with "
                     "`balance -= amount` and `balance += amount`.")
    if not got["overlapped"]:
        where = ("held a lock and was in the middle of moving money" if got["moment"]
                 else "was in the middle of moving money")
        raise Failed(f"While transfer('a', 'b', 10) {where}, "
                     "transfer('c', 'd', 5), on two other accounts, had to wait for it: your bank "
                     "lets only one transfer run at a time (one lock for the whole bank). Give "
                     "each account its own lock and take only the locks of the two accounts a "
                     "transfer touches.")
    expect_equal(got["results"], {"a->b": True, "c->d": True}, "the two transfers")
    expect_equal(got["balances"], [90, 110, 95, 105], "the balances of a, b, c, d afterwards")
