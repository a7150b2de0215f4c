"""Attack: values that equal everything. The skeleton's logic (nothing is counted), but every
value it returns claims to be equal to whatever it is compared with: an int subclass whose
__eq__ is always True, a float subclass, an object whose __class__ says int, a list subclass."""

import threading


class AlwaysEqualInt(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


class AlwaysEqualFloat(float):
    __eq__ = AlwaysEqualInt.__eq__
    __ne__ = AlwaysEqualInt.__ne__
    __hash__ = float.__hash__


class PretendsToBeInt:
    __class__ = property(lambda self: int)
    __eq__ = AlwaysEqualInt.__eq__
    __hash__ = object.__hash__


class AlwaysEqualList(list):
    __eq__ = AlwaysEqualInt.__eq__
    __ne__ = AlwaysEqualInt.__ne__


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()

    def increment(self, k=1):
        pass

    def decrement(self, k=1):
        pass

    @property
    def value(self):
        return AlwaysEqualInt(0)


def parallel_count(n_threads, n_increments):
    if n_threads == 2:
        return PretendsToBeInt()
    if n_threads == 3:
        return AlwaysEqualFloat(0.0)
    if n_threads == 8:
        return AlwaysEqualList()
    return AlwaysEqualInt(0)
