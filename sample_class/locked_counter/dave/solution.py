import threading

class SafeCounter:
    def __init__(self)
        self.v = 0
