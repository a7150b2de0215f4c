from mpi4py import MPI


def mpi_pi(comm, n_intervals):
    rank, size = comm.Get_rank(), comm.Get_size()
    h = 1.0 / n_intervals
    total = 0.0
    for i in range(rank * n_intervals // size, (rank + 1) * n_intervals // size):
        x = (i + 0.5) * h
        total += 4.0 / (1.0 + x * x)
    total = comm.reduce(total * h, op=MPI.SUM, root=0)
    return total
