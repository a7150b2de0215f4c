"""A collective skipped by one rank: rank 0 has "nothing to wait for" and skips the barrier, so
the other ranks wait in it forever."""


def run(comm):
    total = comm.allreduce(comm.rank)
    if comm.rank != 0:
        comm.Barrier()
    return total
