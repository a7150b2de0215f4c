"""Every rank takes part in every collective (correct twin)."""


def run(comm):
    total = comm.allreduce(comm.rank)
    comm.Barrier()
    return total
