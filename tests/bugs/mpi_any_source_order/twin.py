"""`ANY_SOURCE` with the sender read from the status (correct twin)."""
from mpi4py import MPI


def run(comm):
    if comm.rank == 0:
        out = [None] * (comm.size - 1)
        for _ in range(comm.size - 1):
            status = MPI.Status()
            value = comm.recv(source=MPI.ANY_SOURCE, status=status)
            out[status.Get_source() - 1] = value
        return out
    comm.send(comm.rank * 10, dest=0)
    return None
