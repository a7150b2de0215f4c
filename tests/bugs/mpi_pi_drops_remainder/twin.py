"""Every interval belongs to one rank, however n divides (correct twin)."""
from mpi4py import MPI


def run(comm, n):
    rank, size = comm.Get_rank(), comm.Get_size()
    h = 1.0 / n
    start, stop = rank * n // size, (rank + 1) * n // size
    local = 0.0
    for i in range(start, stop):
        x = h * (i + 0.5)
        local += 4.0 / (1.0 + x * x)
    total = comm.reduce(local * h, op=MPI.SUM, root=0)
    return total if rank == 0 else None
