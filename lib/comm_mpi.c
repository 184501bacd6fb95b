/* comm.h over MPI: joined only when an MPI launcher started this process, so a plain
 * run never initialises MPI. A watchdog ends a rank whose collective has waited longer
 * than SSM_COMM_TIMEOUT seconds (default 600; 0 = never): a rank that hangs or died
 * does not leave the others waiting forever. */
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "comm.h"
#include "log.h"

const char *ssm_comm_mpi_built(void) { return "mpi"; }

static atomic_llong busy_since_ms; /* when the collective in progress began; 0: none */
static double timeout_s = 600;
static int my_rank;

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *watchdog(void *arg) {
    (void)arg;
    for (;;) {
        sleep(1);
        long long since = atomic_load(&busy_since_ms);
        if (since && (double)(now_ms() - since) > timeout_s * 1000) {
            fprintf(stderr, "ssmtrain: error: rank %d: a collective has waited %.0f s "
                    "(SSM_COMM_TIMEOUT): another rank hangs or died; ending this one\n",
                    my_rank, timeout_s);
            _exit(1); /* the launcher then ends the job (MPI_Abort could block on MPI's locks) */
        }
    }
    return NULL;
}

static void begin(void) { atomic_store(&busy_since_ms, now_ms()); }
static void end(void) { atomic_store(&busy_since_ms, 0); }

int ssm_mpi_init(int *argc, char ***argv, int *rank, int *size, int *local_rank) {
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK"))
        return 0; /* not started by an MPI launcher: a world of one, without MPI */
    int provided;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, *rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, local_rank);
    MPI_Comm_free(&node);
    my_rank = *rank;
    const char *t = getenv("SSM_COMM_TIMEOUT");
    if (t && *t) timeout_s = atof(t);
    pthread_t th;
    if (timeout_s > 0 && pthread_create(&th, NULL, watchdog, NULL) == 0) pthread_detach(th);
    return 1;
}

static MPI_Datatype mpi_type(ssm_dtype dt) {
    return dt == SSM_F32 ? MPI_FLOAT : dt == SSM_F64 ? MPI_DOUBLE : MPI_INT32_T;
}

/* Counts are ints: a buffer goes in pieces of at most 2^30 elements. */
#define PIECE (INT64_C(1) << 30)
static int piece(int64_t n, int64_t at) { return (int)(n - at < PIECE ? n - at : PIECE); }

static void mpi_allreduce(ssm_dtype dt, void *x, int64_t n, ssm_reduce_op op) {
    size_t es = ssm_dtype_size(dt);
    begin();
    for (int64_t at = 0; at < n; at += PIECE)
        MPI_Allreduce(MPI_IN_PLACE, (char *)x + (size_t)at * es, piece(n, at), mpi_type(dt),
                      op == SSM_REDUCE_MAX ? MPI_MAX : MPI_SUM, MPI_COMM_WORLD);
    end();
}

static void mpi_broadcast(void *buf, size_t bytes, int root) {
    begin();
    for (int64_t at = 0; at < (int64_t)bytes; at += PIECE)
        MPI_Bcast((char *)buf + at, piece((int64_t)bytes, at), MPI_BYTE, root, MPI_COMM_WORLD);
    end();
}

/* The overlapped sums started and not yet waited for. */
static MPI_Request *pending;
static int n_pending, cap_pending;

static void mpi_start_sum(ssm_dtype dt, void *x, int64_t n) {
    size_t es = ssm_dtype_size(dt);
    for (int64_t at = 0; at < n; at += PIECE) {
        if (n_pending == cap_pending) {
            cap_pending = cap_pending ? 2 * cap_pending : 64;
            pending = realloc(pending, (size_t)cap_pending * sizeof *pending);
            SSM_CHECK(pending, "comm: out of memory");
        }
        MPI_Iallreduce(MPI_IN_PLACE, (char *)x + (size_t)at * es, piece(n, at), mpi_type(dt),
                       MPI_SUM, MPI_COMM_WORLD, &pending[n_pending++]);
    }
}

/* Open MPI's non-blocking collectives advance only inside MPI calls: test them. */
static void mpi_progress(void) {
    int done = 0;
    if (n_pending) MPI_Testall(n_pending, pending, &done, MPI_STATUSES_IGNORE);
    if (done) n_pending = 0;
}

static void mpi_wait_all(void) {
    begin();
    MPI_Waitall(n_pending, pending, MPI_STATUSES_IGNORE);
    end();
    n_pending = 0;
}

void ssm_mpi_finalize(void) {
    MPI_Finalize();
    free(pending);
    pending = NULL, n_pending = cap_pending = 0;
}

const ssm_comm_table ssm_mpi_table = {"mpi", mpi_allreduce, mpi_broadcast, mpi_start_sum,
                                      mpi_progress, mpi_wait_all};

void ssm_mpi_barrier(void) {
    begin();
    MPI_Barrier(MPI_COMM_WORLD);
    end();
}

SSM_NORETURN void ssm_mpi_abort(int status) {
    MPI_Abort(MPI_COMM_WORLD, status);
    exit(status); /* MPI_Abort does not return; the compiler does not know it */
}
