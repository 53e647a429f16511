/* apir-server: the sandbox of a connection's process. Once the context's
 * GGML library has loaded and started its device (the code that opens
 * libraries, device files and GPU runtimes has run), the process only
 * serves calls: it reads and writes its socket, maps memory, runs threads
 * and drives its device. A seccomp-bpf filter, for every thread, allows
 * just that:
 *
 *  - killed on the spot (SECCOMP_RET_KILL_PROCESS, so the server logs
 *    SIGSYS): what would take a compromised context out of its process —
 *    execve, execveat, fork, vfork, clone without CLONE_THREAD, ptrace,
 *    process_vm_readv/writev, and system calls of another ABI (i386, x32);
 *  - refused with EPERM: everything not listed (new sockets, connect,
 *    mount, bpf, io_uring, signals to other processes, ...). Not killed: a
 *    driver or libc path that probes a call we did not foresee gets an
 *    error it already handles, instead of ending a working context; the
 *    call still does nothing. To see what a GPU runtime was refused:
 *    `strace -f -p PID` shows such calls failing with EPERM, and with
 *    GGML_VIRTGPU_DEBUG set the kernel's audit log has each refusal
 *    (type=1326, e.g. in dmesg);
 *  - clone3 answers ENOSYS, so glibc creates threads with clone, whose
 *    flags the filter can read.
 *
 * GPU drivers need, after init: ioctl on their device files (any request
 * but the terminal ones that inject input, TIOCSTI and TIOCLINUX), mmap of
 * those files, openat of device and /proc, /sys files their runtime opens
 * lazily (the filter cannot read paths: openat is allowed whole), memory
 * policy calls (UVM) and pipes/eventfds/epoll for their helper threads.
 *
 * What it does not confine: the file system. openat (for the GPU runtime)
 * and write are allowed, so the process may still read and write the
 * files its user may; a mount namespace or Landlock would confine them.
 *
 * Resource limits: no core dumps (the memory holds the guest's data), and
 * the open-file limit can no longer be raised. RLIMIT_NPROC is left alone:
 * it counts every thread of the user, and new processes are already
 * killed. */
#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "apir-server's sandbox knows the system calls of x86_64 and aarch64 only"
#endif
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the filter reads the low 32 bits of an argument at its first word"
#endif

/* LeakSanitizer's exit check stops the world with a tracer: a clone with
 * CLONE_VM (not CLONE_THREAD) that ptrace-attaches to every thread. Test
 * builds with sanitizers allow just that; fork and exec stay killed. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifndef SANITIZER_BUILD
#define SANITIZER_BUILD 0
#endif

#define ALLOW SECCOMP_RET_ALLOW
#define KILL SECCOMP_RET_KILL_PROCESS
#define FAIL_WITH(err) (SECCOMP_RET_ERRNO | ((err) & SECCOMP_RET_DATA))
#define X32_SYSCALL_BIT 0x40000000u

/* ---- the system calls --------------------------------------------------- */

/* allowed whatever their arguments; a name the architecture lacks is left out */
static const int allowed[] = {
    /* socket and file I/O */
    SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_pwrite64, SYS_preadv, SYS_pwritev,
    SYS_preadv2, SYS_pwritev2, SYS_lseek, SYS_close, SYS_dup, SYS_dup3, SYS_fcntl, SYS_recvfrom,
    SYS_recvmsg, SYS_recvmmsg, SYS_sendto, SYS_sendmsg, SYS_sendmmsg, SYS_shutdown,
    SYS_ppoll, SYS_pselect6, SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_pwait, SYS_eventfd2, SYS_pipe2,
    SYS_timerfd_create, SYS_timerfd_settime, SYS_timerfd_gettime, SYS_fsync, SYS_fdatasync, SYS_flock,
    /* files GPU runtimes open lazily, libraries they load lazily */
    SYS_openat, SYS_newfstatat, SYS_fstat, SYS_statx, SYS_statfs, SYS_fstatfs, SYS_faccessat,
    SYS_faccessat2, SYS_readlinkat, SYS_getdents64, SYS_getcwd,
    /* memory; blobs are memfds */
    SYS_mmap, SYS_munmap, SYS_mprotect, SYS_madvise, SYS_brk, SYS_mremap, SYS_msync, SYS_mincore,
    SYS_mlock, SYS_mlock2, SYS_munlock, SYS_get_mempolicy, SYS_set_mempolicy, SYS_mbind, SYS_membarrier,
    SYS_memfd_create, SYS_ftruncate,
    /* threads */
    SYS_futex, SYS_set_robust_list, SYS_rseq, SYS_set_tid_address, SYS_sched_yield,
    SYS_sched_getaffinity, SYS_sched_setaffinity, SYS_sched_getparam, SYS_sched_getscheduler,
    SYS_sched_get_priority_max, SYS_sched_get_priority_min, SYS_getpriority, SYS_gettid, SYS_getpid,
    SYS_getppid, SYS_getuid, SYS_geteuid, SYS_getgid, SYS_getegid, SYS_getresuid, SYS_getresgid,
    /* signals, clocks, the end */
    SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_rt_sigtimedwait, SYS_rt_sigpending,
    SYS_sigaltstack, SYS_restart_syscall, SYS_clock_gettime, SYS_clock_getres, SYS_clock_nanosleep,
    SYS_nanosleep, SYS_gettimeofday, SYS_exit, SYS_exit_group,
    /* about the machine */
    SYS_uname, SYS_sysinfo, SYS_getrlimit, SYS_getrusage, SYS_times, SYS_getrandom, SYS_getcpu,
#ifdef __x86_64__
    /* the older names x86_64 still has (aarch64 has only the *at forms) */
    SYS_open, SYS_stat, SYS_lstat, SYS_access, SYS_readlink, SYS_getdents, SYS_poll, SYS_select,
    SYS_epoll_create, SYS_epoll_wait, SYS_eventfd, SYS_pipe, SYS_dup2, SYS_time, SYS_arch_prctl,
#endif
#if SANITIZER_BUILD
    SYS_wait4, /* LeakSanitizer waits for its tracer */
#endif
};

/* killed: leaving the process, or reaching into another */
static const int killed[] = {
    SYS_execve, SYS_execveat, SYS_process_vm_readv, SYS_process_vm_writev,
#ifdef __x86_64__
    SYS_fork, SYS_vfork,
#endif
#if !SANITIZER_BUILD
    SYS_ptrace,
#endif
};

/* prctl options a thread of a running context uses: naming threads and
 * memory areas (glibc, drivers) */
static const uint32_t allowed_prctl[] = {
    PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE,
#ifdef PR_SET_VMA
    PR_SET_VMA,
#endif
#if SANITIZER_BUILD
    PR_SET_PTRACER, PR_SET_PDEATHSIG, PR_SET_DUMPABLE,
#endif
};

#if SANITIZER_BUILD
/* what LeakSanitizer's tracer does to the threads it stops */
static const uint32_t allowed_ptrace[] = {
    PTRACE_ATTACH, PTRACE_DETACH, PTRACE_CONT, PTRACE_GETREGSET,
#ifdef __x86_64__
    PTRACE_GETREGS, PTRACE_GETFPREGS,
#endif
};
#endif

/* terminal requests that type into the terminal or drive the console */
static const uint32_t refused_ioctl[] = { TIOCSTI, TIOCLINUX };

/* ---- building the filter ------------------------------------------------ */

#define MAX_INSNS 512
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct filter {
    struct sock_filter insn[MAX_INSNS];
    size_t n;
    bool too_long;
};

static void emit(struct filter *f, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
    if (f->n == MAX_INSNS) {
        f->too_long = true;
        return;
    }
    f->insn[f->n++] = (struct sock_filter)BPF_JUMP(code, k, jt, jf);
}

static void load(struct filter *f, size_t offset)
{
    emit(f, BPF_LD | BPF_W | BPF_ABS, (uint32_t)offset, 0, 0);
}

/* the low 32 bits of argument i (the filter runs on little-endian only) */
static void load_arg(struct filter *f, int i)
{
    load(f, offsetof(struct seccomp_data, args) + sizeof(uint64_t) * (size_t)i);
}

static void ret(struct filter *f, uint32_t action)
{
    emit(f, BPF_RET | BPF_K, action, 0, 0);
}

/* with the system call number loaded: action when it is nr */
static void on_call(struct filter *f, int nr, uint32_t action)
{
    emit(f, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1);
    ret(f, action);
}

/* A block for system call nr that reads its arguments and ends in returns
 * only: the number stays loaded for what follows it. */
static size_t begin_block(struct filter *f, int nr)
{
    emit(f, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 0);
    return f->n - 1;
}

static void end_block(struct filter *f, size_t at)
{
    const size_t skip = f->n - at - 1;
    f->too_long |= skip > UINT8_MAX;
    if (at < MAX_INSNS) {
        f->insn[at].jf = (uint8_t)skip;
    }
}

/* system call nr: `in` when argument i is one of the values, else `out` */
static void on_arg_in(struct filter *f, int nr, int i, const uint32_t *values, size_t n, uint32_t in, uint32_t out)
{
    const size_t block = begin_block(f, nr);
    load_arg(f, i);
    for (size_t v = 0; v < n; v++) {
        emit(f, BPF_JMP | BPF_JEQ | BPF_K, values[v], (uint8_t)(n - v), 0);
    }
    ret(f, out);
    ret(f, in);
    end_block(f, block);
}

/* clone makes threads only (and, in sanitizer builds, LSan's tracer) */
static void on_clone(struct filter *f)
{
    const size_t block = begin_block(f, SYS_clone);
    load_arg(f, 0);
    emit(f, BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1);
    ret(f, ALLOW);
#if SANITIZER_BUILD
    emit(f, BPF_JMP | BPF_JSET | BPF_K, CLONE_VM, 0, 1);
    ret(f, ALLOW);
#endif
    ret(f, KILL);
    end_block(f, block);
}

static void build_filter(struct filter *f)
{
    const uint32_t otherwise = FAIL_WITH(EPERM);
    const uint32_t self[] = { (uint32_t)getpid() };
    const uint32_t self_or_zero[] = { 0, (uint32_t)getpid() };
    load(f, offsetof(struct seccomp_data, arch));
    emit(f, BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 1, 0);
    ret(f, KILL);
    load(f, offsetof(struct seccomp_data, nr));
#ifdef __x86_64__
    emit(f, BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1);
    ret(f, KILL);
#endif
    for (size_t i = 0; i < COUNT(killed); i++) {
        on_call(f, killed[i], KILL);
    }
    on_clone(f);
    on_call(f, SYS_clone3, FAIL_WITH(ENOSYS));
    on_arg_in(f, SYS_ioctl, 1, refused_ioctl, COUNT(refused_ioctl), FAIL_WITH(EPERM), ALLOW);
    on_arg_in(f, SYS_prctl, 0, allowed_prctl, COUNT(allowed_prctl), ALLOW, otherwise);
    /* signals and limits of this process only (abort() signals itself) */
    on_arg_in(f, SYS_kill, 0, self, COUNT(self), ALLOW, otherwise);
    on_arg_in(f, SYS_tgkill, 0, self, COUNT(self), ALLOW, otherwise);
    on_arg_in(f, SYS_prlimit64, 0, self_or_zero, COUNT(self_or_zero), ALLOW, otherwise);
#if SANITIZER_BUILD
    on_arg_in(f, SYS_ptrace, 0, allowed_ptrace, COUNT(allowed_ptrace), ALLOW, otherwise);
#endif
    for (size_t i = 0; i < COUNT(allowed); i++) {
        on_call(f, allowed[i], ALLOW);
    }
    ret(f, otherwise);
}

/* ---- entering it -------------------------------------------------------- */

static bool limit_resources(const char *who)
{
    const struct rlimit no_core = { 0, 0 };
    struct rlimit files;
    if (setrlimit(RLIMIT_CORE, &no_core) != 0 || getrlimit(RLIMIT_NOFILE, &files) != 0) {
        LOG_ERROR("%s: cannot set the sandbox's resource limits: %s", who, strerror(errno));
        return false;
    }
    files.rlim_max = files.rlim_cur;
    if (setrlimit(RLIMIT_NOFILE, &files) != 0) {
        LOG_ERROR("%s: cannot fix the open-file limit: %s", who, strerror(errno));
        return false;
    }
    return true;
}

bool sandbox_enter(const char *who)
{
    static struct filter f; /* 4 KiB: off the stack */
    memset(&f, 0, sizeof f);
    build_filter(&f);
    if (f.too_long) {
        LOG_ERROR("%s: the sandbox's filter does not fit its %d instructions", who, MAX_INSNS);
        return false;
    }
    const struct sock_fprog prog = { .len = (unsigned short)f.n, .filter = f.insn };
    if (!limit_resources(who)) {
        return false;
    }
    /* TSYNC: the GGML library's threads (CPU workers, GPU runtime helpers)
     * already run, and get the filter too; LOG: refusals go to the audit log */
    const unsigned flags = SECCOMP_FILTER_FLAG_TSYNC | (log_debug_enabled(&component_log) ? SECCOMP_FILTER_FLAG_LOG : 0);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        LOG_ERROR("%s: cannot set no_new_privs for the sandbox: %s; the connection is closed", who, strerror(errno));
        return false;
    }
    const long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (rc != 0) {
        /* TSYNC fails with the id of a thread that has another filter */
        LOG_ERROR("%s: cannot enter the sandbox (seccomp): %s; the connection is closed (apir-server "
                  "--no-sandbox serves without it)", who, rc > 0 ? "a thread has a filter of its own" : strerror(errno));
        return false;
    }
    LOG_INFO("%s: sandboxed (seccomp filter of %zu instructions)", who, f.n);
    return true;
}
