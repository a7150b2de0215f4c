/* The grader's MPI layer below Python, preloaded (LD_PRELOAD) into the ranks of every MPI
 * request (see mpi_setup.py). Whatever object the student's code calls MPI through -- a
 * communicator class the Python-level checks never saw, the unbound MPI.Comm.Send or
 * MPI.Intracomm.allreduce of the extension type, mpi4py's lower-level API -- the call reaches
 * the functions here.
 *
 * Strict mode (PGRADER_MPI_STRICT=1 in the environment): MPI_Send, MPI_Isend and MPI_Send_init,
 * and the ready sends MPI_Rsend, MPI_Irsend and MPI_Rsend_init (and their large-count _c forms),
 * are calls of PMPI_Ssend, PMPI_Issend and PMPI_Ssend_init (a ready send needs its receive
 * posted already, which a synchronous send waits for; buffered sends, local by definition, are
 * left alone): a standard send of a small message no longer returns as soon as MPICH copied it
 * (eager protocol), but only once the matching receive started, so "both ranks send first"
 * deadlocks at any message size, as the MPI standard allows.
 *
 * For the probes (grader.checks.mpi_shim, through ctypes, which student code is refused):
 * - pgrader_mpi_refuse(1) makes every collective operation (MPI_Barrier, MPI_Bcast,
 *   MPI_Allreduce, their nonblocking, persistent, neighbourhood and large-count forms, window
 *   creation) fail at once with an MPI error class of its own, whose string names the call, and
 *   counts it (pgrader_mpi_refused);
 * - every point-to-point send (MPI_Send, Ssend, Bsend, Rsend, their nonblocking and persistent
 *   forms, MPI_Sendrecv, MPI_Sendrecv_replace, MPI_Isendrecv...) records its destination as a
 *   COMM_WORLD rank, read with pgrader_mpi_sent_to and cleared with pgrader_mpi_forget_sends.
 * - the CPU time each thread spends inside MPI calls that run no code of the student's (sends,
 *   receives, probes, waits and tests, collectives with a predefined op; strict mode's polled
 *   waits in Python, announced with pgrader_mpi_enter/leave) is added up, read with
 *   pgrader_mpi_inside_cpu: the time a rank waited for others, which a share of the work must
 *   not be charged. Once the process registered code MPI calls back (a user-defined op, a
 *   generalized request, an error handler), no call is excused any more: that code could
 *   compute inside any of them.
 * Built with the sandbox image; needs only libdl.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

typedef int MPI_Group;

#define WORLD ((MPI_Comm) 0x44000000)  /* MPICH's MPI_COMM_WORLD */
#define ERR_OTHER 15                   /* MPICH's MPI_ERR_OTHER */
#define UNKNOWN_RANK (-2)              /* a destination no COMM_WORLD rank stands for */
#define LOGGED_RANKS 4096

static int strict;  /* PGRADER_MPI_STRICT=1: standard and ready sends are synchronous */

__attribute__((constructor)) static void read_mode(void)
{
    const char *mode = getenv("PGRADER_MPI_STRICT");
    strict = mode != NULL && strcmp(mode, "1") == 0;
}

static void *pmpi(const char *name)
{
    return dlsym(mpi_library(), name);
}

/* ------------------------------------------------------------ destinations of sends */

static unsigned char sent[LOGGED_RANKS];
static int sent_unknown;

static int world_rank(int dest, MPI_Comm comm)
{
    static int (*test_inter)(MPI_Comm, int *);
    static int (*comm_group)(MPI_Comm, MPI_Group *);
    static int (*remote_group)(MPI_Comm, MPI_Group *);
    static int (*translate)(MPI_Group, int, const int *, MPI_Group, int *);
    static int (*group_free)(MPI_Group *);
    int inter = 0, world_dest = UNKNOWN_RANK;
    MPI_Group group, world;

    if (comm == WORLD)
        return dest;
    if (test_inter == NULL) {
        test_inter = pmpi("PMPI_Comm_test_inter");
        comm_group = pmpi("PMPI_Comm_group");
        remote_group = pmpi("PMPI_Comm_remote_group");
        translate = pmpi("PMPI_Group_translate_ranks");
        group_free = pmpi("PMPI_Group_free");
    }
    if (test_inter(comm, &inter) != 0)
        return UNKNOWN_RANK;
    if ((inter ? remote_group : comm_group)(comm, &group) != 0)
        return UNKNOWN_RANK;
    if (comm_group(WORLD, &world) == 0) {
        if (translate(group, 1, &dest, world, &world_dest) != 0)
            world_dest = UNKNOWN_RANK;
        group_free(&world);
    }
    group_free(&group);
    return world_dest;
}

static void record_send(int dest, MPI_Comm comm)
{
    if (dest < 0)  /* MPI_PROC_NULL: no message */
        return;
    dest = world_rank(dest, comm);
    if (dest >= 0 && dest < LOGGED_RANKS)
        sent[dest] = 1;
    else
        sent_unknown = 1;
}

/* The COMM_WORLD ranks this process sent to since the last pgrader_mpi_forget_sends, in
 * increasing order, then UNKNOWN_RANK if a destination had no COMM_WORLD rank (or one too
 * high to keep): at most `capacity` of them; how many were written. */
int pgrader_mpi_sent_to(int *ranks, int capacity)
{
    int written = 0;
    for (int rank = 0; rank < LOGGED_RANKS && written < capacity; rank++)
        if (sent[rank])
            ranks[written++] = rank;
    if (sent_unknown && written < capacity)
        ranks[written++] = UNKNOWN_RANK;
    return written;
}

void pgrader_mpi_forget_sends(void)
{
    memset(sent, 0, sizeof sent);
    sent_unknown = 0;
}

/* ------------------------------------------------------------ refused collectives */

static volatile int refusing, refusals;
static char first_refused[64];

void pgrader_mpi_refuse(int on)
{
    if (on) {
        refusals = 0;
        first_refused[0] = '\0';
    }
    refusing = on;
}

int pgrader_mpi_refusing(void)
{
    return refusing;
}

/* How many collective calls were refused since the last pgrader_mpi_refuse(1); the first
 * one's name in `name` (`size` bytes). */
int pgrader_mpi_refused(char *name, int size)
{
    if (size > 0)
        snprintf(name, (size_t) size, "%s", first_refused);
    return refusals;
}

static int refuse(const char *name, int *code)
{
    static int error_class = -1;
    static int (*add_class)(int *), (*add_code)(int, int *), (*add_string)(int, const char *);
    char message[160];
    int length = (int) strlen(name);

    if (length > 2 && strcmp(name + length - 2, "_c") == 0)
        length -= 2;  /* named as the student knows it: MPI_Allreduce, not MPI_Allreduce_c */
    if (refusals++ == 0)
        snprintf(first_refused, sizeof first_refused, "%.*s", length, name);
    if (*code >= 0)
        return *code;
    if (add_class == NULL) {
        add_class = pmpi("PMPI_Add_error_class");
        add_code = pmpi("PMPI_Add_error_code");
        add_string = pmpi("PMPI_Add_error_string");
    }
    if (error_class < 0 && add_class(&error_class) != 0)
        error_class = -1;
    if (error_class < 0 || add_code(error_class, code) != 0)
        return *code = -1, ERR_OTHER;
    snprintf(message, sizeof message, "%.*s is a collective operation, which is not allowed "
             "here: the grader refused it", length, name);
    add_string(*code, message);
    return *code;
}

/* ------------------------------------------------------------ CPU time spent waiting in MPI */

static long long inside_cpu_ns;  /* all threads together */
static volatile int callbacks;   /* the process registered code that MPI calls back */
static __thread int depth;       /* this thread is inside an excused span already */

static double thread_cpu(void)
{
    struct timespec now;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return (double) now.tv_sec + (double) now.tv_nsec * 1e-9;
}

/* Start an excused span on this thread: its CPU time, `pgrader_mpi_leave`'s return, is added
 * unless code that MPI calls back exists (then 0); nested spans count once. */
double pgrader_mpi_enter(void)
{
    return depth++ == 0 ? thread_cpu() : -1.0;
}

void pgrader_mpi_leave(double start)
{
    depth--;
    if (start >= 0.0 && !callbacks) {
        double spent = thread_cpu() - start;
        __atomic_fetch_add(&inside_cpu_ns, (long long) (spent * 1e9), __ATOMIC_RELAXED);
    }
}

double pgrader_mpi_inside_cpu(void)
{
    return (double) __atomic_load_n(&inside_cpu_ns, __ATOMIC_RELAXED) * 1e-9;
}

static int builtin_op(unsigned long op)
{
    return ((unsigned int) op >> 30) == 1;  /* MPICH's HANDLE_KIND_BUILTIN */
}

/* ------------------------------------------------------------ the intercepted calls
 *
 * Every parameter of these MPI functions is an integer, a handle or a pointer, at most 12 of
 * them: each is passed on as the machine word it came in (registers, then the stack, in the
 * x86-64 and AArch64 C calling conventions), so one definition forwards any of them. */
#if !defined(__x86_64__) && !defined(__aarch64__)
#error "mpi_strict.c forwards calls as machine words: x86-64 or AArch64 only"
#endif

typedef unsigned long W;
#define PARAMS W a1, W a2, W a3, W a4, W a5, W a6, W a7, W a8, W a9, W a10, W a11, W a12
#define ARGS a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12

/* `real(...)`, its CPU time counted as waiting (pgrader_mpi_enter/leave) */
static int timed(int (*real)(PARAMS), PARAMS)
{
    double start = pgrader_mpi_enter();
    int result = real(ARGS);
    pgrader_mpi_leave(start);
    return result;
}

/* A send: recorded, then made as `target` (strict mode) or as itself. */
#define SEND(name, target, dest, comm)                                         \
    int name(PARAMS)                                                           \
    {                                                                          \
        static int (*real)(PARAMS);                                            \
        if (real == NULL)                                                      \
            real = (int (*)(PARAMS)) pmpi(strict ? "P" #target : "P" #name);   \
        record_send((int) dest, (MPI_Comm) comm);                              \
        return timed(real, ARGS);                                              \
    }

#define SENDS(name, target, dest, comm) \
    SEND(name, target, dest, comm)      \
    SEND(name##_c, target##_c, dest, comm)

SENDS(MPI_Send, MPI_Ssend, a4, a6)
SENDS(MPI_Ssend, MPI_Ssend, a4, a6)
SENDS(MPI_Bsend, MPI_Bsend, a4, a6)
SENDS(MPI_Rsend, MPI_Ssend, a4, a6)
SENDS(MPI_Isend, MPI_Issend, a4, a6)
SENDS(MPI_Issend, MPI_Issend, a4, a6)
SENDS(MPI_Ibsend, MPI_Ibsend, a4, a6)
SENDS(MPI_Irsend, MPI_Issend, a4, a6)
SENDS(MPI_Send_init, MPI_Ssend_init, a4, a6)
SENDS(MPI_Ssend_init, MPI_Ssend_init, a4, a6)
SENDS(MPI_Bsend_init, MPI_Bsend_init, a4, a6)
SENDS(MPI_Rsend_init, MPI_Ssend_init, a4, a6)
SENDS(MPI_Sendrecv, MPI_Sendrecv, a4, a11)
SENDS(MPI_Sendrecv_replace, MPI_Sendrecv_replace, a4, a8)
SENDS(MPI_Isendrecv, MPI_Isendrecv, a4, a11)
SENDS(MPI_Isendrecv_replace, MPI_Isendrecv_replace, a4, a8)
SENDS(MPI_Psend_init, MPI_Psend_init, a5, a7)

/* A collective: refused while pgrader_mpi_refuse(1) holds, else made as itself. */
#define NO_OP 0x44000000  /* a collective without an operation: as if a predefined one */
#define COLLECTIVE(name) COLLECTIVE_OP(name, NO_OP)

/* ... `op` the argument that is its reduction operation: a user-defined one runs the
 * student's code inside the call, which is then not excused */
#define COLLECTIVE_OP(name, op)                                                \
    int name(PARAMS)                                                           \
    {                                                                          \
        static int (*real)(PARAMS);                                            \
        static int code = -1;                                                  \
        if (refusing)                                                          \
            return refuse(#name, &code);                                       \
        if (real == NULL)                                                      \
            real = (int (*)(PARAMS)) pmpi("P" #name);                          \
        if (!builtin_op(op))                                                   \
            return real(ARGS);                                                 \
        return timed(real, ARGS);                                              \
    }

/* blocking, nonblocking (MPI_I + the name in lower case) and persistent (..._init) forms,
 * each with its large-count _c form */
#define COLLECTIVES(name, lower) COLLECTIVES_OP(name, lower, NO_OP)

/* ... with `op` the argument that is the operation (the same in every form) */
#define COLLECTIVES_OP(name, lower, op)             \
    COLLECTIVE_OP(MPI_##name, op)                   \
    COLLECTIVE_OP(MPI_##name##_c, op)               \
    COLLECTIVE_OP(MPI_I##lower, op)                 \
    COLLECTIVE_OP(MPI_I##lower##_c, op)             \
    COLLECTIVE_OP(MPI_##name##_init, op)       \
    COLLECTIVE_OP(MPI_##name##_init_c, op)

COLLECTIVE(MPI_Barrier)
COLLECTIVE(MPI_Ibarrier)
COLLECTIVE(MPI_Barrier_init)
COLLECTIVES(Bcast, bcast)
COLLECTIVES(Gather, gather)
COLLECTIVES(Gatherv, gatherv)
COLLECTIVES(Scatter, scatter)
COLLECTIVES(Scatterv, scatterv)
COLLECTIVES(Allgather, allgather)
COLLECTIVES(Allgatherv, allgatherv)
COLLECTIVES(Alltoall, alltoall)
COLLECTIVES(Alltoallv, alltoallv)
COLLECTIVES(Alltoallw, alltoallw)
COLLECTIVES_OP(Reduce, reduce, a5)
COLLECTIVES_OP(Allreduce, allreduce, a5)
COLLECTIVES_OP(Reduce_scatter, reduce_scatter, a5)
COLLECTIVES_OP(Reduce_scatter_block, reduce_scatter_block, a5)
COLLECTIVES_OP(Scan, scan, a5)
COLLECTIVES_OP(Exscan, exscan, a5)
COLLECTIVES(Neighbor_allgather, neighbor_allgather)
COLLECTIVES(Neighbor_allgatherv, neighbor_allgatherv)
COLLECTIVES(Neighbor_alltoall, neighbor_alltoall)
COLLECTIVES(Neighbor_alltoallv, neighbor_alltoallv)
COLLECTIVES(Neighbor_alltoallw, neighbor_alltoallw)
COLLECTIVE(MPI_Win_create)
COLLECTIVE(MPI_Win_create_c)
COLLECTIVE(MPI_Win_allocate)
COLLECTIVE(MPI_Win_allocate_c)
COLLECTIVE(MPI_Win_allocate_shared)
COLLECTIVE(MPI_Win_allocate_shared_c)
COLLECTIVE(MPI_Win_create_dynamic)

/* Receives, probes, waits and tests: timed as waiting (a generalized request's or a
 * nonblocking reduction's callbacks run in waits and tests, but registering either ends all
 * excuses). */
#define WAITING(name)                                                          \
    int name(PARAMS)                                                           \
    {                                                                          \
        static int (*real)(PARAMS);                                            \
        if (real == NULL)                                                      \
            real = (int (*)(PARAMS)) pmpi("P" #name);                          \
        return timed(real, ARGS);                                              \
    }

WAITING(MPI_Recv)
WAITING(MPI_Recv_c)
WAITING(MPI_Mrecv)
WAITING(MPI_Mrecv_c)
WAITING(MPI_Probe)
WAITING(MPI_Iprobe)
WAITING(MPI_Mprobe)
WAITING(MPI_Improbe)
WAITING(MPI_Wait)
WAITING(MPI_Waitall)
WAITING(MPI_Waitany)
WAITING(MPI_Waitsome)
WAITING(MPI_Test)
WAITING(MPI_Testall)
WAITING(MPI_Testany)
WAITING(MPI_Testsome)

/* Registering code that MPI calls back: from then on no call is excused. */
#define CALLS_BACK(name)                                                       \
    int name(PARAMS)                                                           \
    {                                                                          \
        static int (*real)(PARAMS);                                            \
        if (real == NULL)                                                      \
            real = (int (*)(PARAMS)) pmpi("P" #name);                          \
        callbacks = 1;                                                         \
        return real(ARGS);                                                     \
    }

CALLS_BACK(MPI_Op_create)
CALLS_BACK(MPI_Op_create_c)
CALLS_BACK(MPI_Grequest_start)
CALLS_BACK(MPI_Comm_create_errhandler)
CALLS_BACK(MPI_Win_create_errhandler)
CALLS_BACK(MPI_File_create_errhandler)
CALLS_BACK(MPI_Session_create_errhandler)
