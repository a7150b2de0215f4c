/* Strict MPI below Python: every standard send of the process becomes a synchronous send.
 *
 * Preloaded (LD_PRELOAD) into the ranks of a request run in strict mode (see mpi_setup.py),
 * this library defines MPI_Send, MPI_Isend and MPI_Send_init, and the ready sends MPI_Rsend,
 * MPI_Irsend and MPI_Rsend_init (and their large-count _c forms), as calls of PMPI_Ssend,
 * PMPI_Issend and PMPI_Ssend_init (a ready send needs its receive posted already, which a
 * synchronous send waits for; buffered sends, local by definition, are left alone): a standard send of a small message
 * no longer returns as soon as MPICH copied it (eager protocol), but only once the matching
 * receive started, so "both ranks send first" deadlocks at any message size, as the MPI
 * standard allows. Whatever object the student's code sends with -- a communicator class the
 * Python-level strict mode never saw, the unbound MPI.Comm.Send of the extension type -- the
 * call reaches MPI_Send here. Built with the sandbox image; needs only libdl.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

typedef int MPI_Datatype;
typedef int MPI_Comm;
typedef int MPI_Request;
typedef long long MPI_Count;

static void *mpi_library(void)
{
    static void *handle;
    if (handle == NULL) {
        handle = dlopen("libmpi.so.12", RTLD_NOLOAD | RTLD_LAZY);  /* loaded by mpi4py already */
        if (handle == NULL)
            handle = RTLD_DEFAULT;
    }
    return handle;
}

#define FORWARD(name, target, params, args)                                   \
    int name params                                                            \
    {                                                                          \
        static int (*real) params;                                             \
        if (real == NULL)                                                      \
            real = (int (*) params) dlsym(mpi_library(), #target);             \
        return real args;                                                      \
    }

FORWARD(MPI_Send, PMPI_Ssend,
        (const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm),
        (buf, count, type, dest, tag, comm))
FORWARD(MPI_Send_c, PMPI_Ssend_c,
        (const void *buf, MPI_Count count, MPI_Datatype type, int dest, int tag, MPI_Comm comm),
        (buf, count, type, dest, tag, comm))
FORWARD(MPI_Isend, PMPI_Issend,
        (const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
         MPI_Request *request),
        (buf, count, type, dest, tag, comm, request))
FORWARD(MPI_Isend_c, PMPI_Issend_c,
        (const void *buf, MPI_Count count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
         MPI_Request *request),
        (buf, count, type, dest, tag, comm, request))
FORWARD(MPI_Send_init, PMPI_Ssend_init,
        (const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
         MPI_Request *request),
        (buf, count, type, dest, tag, comm, request))
FORWARD(MPI_Send_init_c, PMPI_Ssend_init_c,
        (const void *buf, MPI_Count count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
         MPI_Request *request),
        (buf, count, type, dest, tag, comm, request))
FORWARD(MPI_Rsend, PMPI_Ssend,
        (const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm),
        (buf, count, type, dest, tag, comm))
FORWARD(MPI_Rsend_c, PMPI_Ssend_c,
        (const void *buf, MPI_Count count, MPI_Datatype type, int dest, int tag, MPI_Comm comm),
        (buf, count, type, dest, tag, comm))
FORWARD(MPI_Irsend, PMPI_Issend,
        (const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
         MPI_Request *request),
        (buf, count, type, dest, tag, comm, request))
FORWARD(MPI_Irsend_c, PMPI_Issend_c,
        (const void *buf, MPI_Count count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
         MPI_Request *request),
        (buf, count, type, dest, tag, comm, request))
FORWARD(MPI_Rsend_init, PMPI_Ssend_init,
        (const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
         MPI_Request *request),
        (buf, count, type, dest, tag, comm, request))
FORWARD(MPI_Rsend_init_c, PMPI_Ssend_init_c,
        (const void *buf, MPI_Count count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
         MPI_Request *request),
        (buf, count, type, dest, tag, comm, request))
