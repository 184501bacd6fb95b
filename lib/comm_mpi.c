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

void ssm_mpi_finalize(void) { MPI_Finalize(); }

static MPI_Datatype mpi_type(ssm_dtype dt) {
    return dt == SSM_F32 ? MPI_FLOAT : dt == SSM_F64 ? MPI_DOUBLE : MPI_INT32_T;
}

static void mpi_allreduce(ssm_dtype dt, void *x, int64_t n, ssm_reduce_op op) {
    size_t es = ssm_dtype_size(dt);
    begin();
    for (int64_t at = 0; at < n; at += 1 << 30) { /* counts are ints */
        int c = (int)(n - at < (1 << 30) ? n - at : 1 << 30);
        MPI_Allreduce(MPI_IN_PLACE, (char *)x + (size_t)at * es, c, mpi_type(dt),
                      op == SSM_REDUCE_MAX ? MPI_MAX : MPI_SUM, MPI_COMM_WORLD);
    }
    end();
}

static void mpi_broadcast(void *buf, size_t bytes, int root) {
    begin();
    for (size_t at = 0; at < bytes; at += 1u << 30) {
        int c = (int)(bytes - at < (1u << 30) ? bytes - at : 1u << 30);
        MPI_Bcast((char *)buf + at, c, MPI_BYTE, root, MPI_COMM_WORLD);
    }
    end();
}

const ssm_comm_table ssm_mpi_table = {"mpi", mpi_allreduce, mpi_broadcast};

void ssm_mpi_barrier(void) {
    begin();
    MPI_Barrier(MPI_COMM_WORLD);
    end();
}

SSM_NORETURN void ssm_mpi_abort(int status) {
    MPI_Abort(MPI_COMM_WORLD, status);
    exit(status); /* MPI_Abort does not return; the compiler does not know it */
}
