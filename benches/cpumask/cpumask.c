/*
 * cpumask: make a process (and everything it starts) see a smaller x86-64 CPU than the
 * one it runs on, by trapping CPUID and clearing feature bits.
 *
 * Why: issue 13 asks for figures "on an AVX2-only CPU" beside ONNX Runtime, and the
 * machines this project is measured on have been AVX-512 parts. Our encoder can be forced
 * to a lower tier (TRIAGE_ISA), but ONNX Runtime's MLAS cannot: it reads CPUID itself and
 * runs its AVX-512 / AMX kernels. With this library preloaded, every runtime-dispatching
 * library in the process (MLAS, numpy, candle's gemm, Rust's std_detect, glibc's string
 * functions once GLIBC_TUNABLES agrees) sees the same reduced CPU and picks the kernels
 * it would pick on such a machine, at native speed. It is not a different
 * microarchitecture: a Sapphire Rapids core running AVX2 code is not a Zen 3 core, so
 * figures taken this way say so.
 *
 * How: Linux's ARCH_SET_CPUID (arch_prctl) makes CPUID fault in user mode on CPUs with
 * CPUID faulting (`cpuid_fault` in /proc/cpuinfo: Intel, and KVM guests). The SIGSEGV
 * handler runs the real CPUID with faulting briefly re-enabled, clears the masked bits and
 * steps over the instruction. The kernel re-enables CPUID on execve, so the constructor
 * runs again in each new program (LD_PRELOAD is inherited); threads inherit the setting.
 * Programs install SIGSEGV handlers of their own (GCC to report crashes, Rust's runtime to
 * report stack overflows); `sigaction` and `signal` are interposed so that such a handler
 * is kept aside and called for every fault that is not a CPUID, while ours stays installed.
 *
 * Profiles (CPUMASK=...):
 *   avx2  AVX2 + FMA, no AVX-512, no AVX-VNNI, no AMX (Haswell … Zen 3 level)
 *   sse   x86-64-v2: additionally no AVX, AVX2, FMA, F16C (a CPU with no SIMD tier of ours)
 *
 * Build: cc -O2 -shared -fPIC -o cpumask.so cpumask.c -ldl   (benches/cpumask/run.sh does it)
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef ARCH_GET_CPUID
#define ARCH_GET_CPUID 0x1011
#define ARCH_SET_CPUID 0x1012
#endif

static int profile; /* 1 = avx2, 2 = sse */

static long set_cpuid_enabled(int on) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, on); }

static void real_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

#define BIT(n) (1u << (n))

static void mask(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    if (leaf == 7 && sub == 0) {
        /* EBX: AVX512F 16, DQ 17, IFMA 21, PF 26, ER 27, CD 28, BW 30, VL 31 */
        r[1] &= ~(BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31));
        /* ECX: VBMI 1, VBMI2 6, VNNI 11, BITALG 12, VPOPCNTDQ 14 */
        r[2] &= ~(BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14));
        /* EDX: 4VNNIW 2, 4FMAPS 3, VP2INTERSECT 8, AMX-BF16 22, AVX512-FP16 23, AMX-TILE 24, AMX-INT8 25 */
        r[3] &= ~(BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25));
        if (profile == 2) r[1] &= ~BIT(5); /* AVX2 */
    } else if (leaf == 7 && sub == 1) {
        /* EAX: AVX-VNNI 4, AVX512-BF16 5, AMX-FP16 21, AVX-IFMA 23 */
        r[0] &= ~(BIT(4) | BIT(5) | BIT(21) | BIT(23));
        /* EDX: AVX-VNNI-INT8 4, AVX-NE-CONVERT 5, AMX-COMPLEX 8, AVX-VNNI-INT16 10, AVX10 19 */
        r[3] &= ~(BIT(4) | BIT(5) | BIT(8) | BIT(10) | BIT(19));
    } else if (leaf == 0xd && sub == 0) {
        /* XSAVE components: opmask 5, ZMM_Hi256 6, Hi16_ZMM 7, AMX 17-18 */
        r[0] &= ~(BIT(5) | BIT(6) | BIT(7) | BIT(17) | BIT(18));
        if (profile == 2) r[0] &= ~BIT(2); /* YMM state */
    } else if (leaf == 1 && profile == 2) {
        /* ECX: FMA 12, AVX 28, F16C 29 */
        r[2] &= ~(BIT(12) | BIT(28) | BIT(29));
    } else if (leaf == 0x1d || leaf == 0x1e || leaf == 0x24) {
        /* AMX palette / TMUL info, AVX10: absent */
        r[0] = r[1] = r[2] = r[3] = 0;
    }
}

/* The program's own SIGSEGV disposition, kept aside (see the header). */
static struct sigaction app_segv = {.sa_handler = SIG_DFL};

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

static sigaction_fn real_sigaction(void) {
    static sigaction_fn real;
    if (!real) real = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    return real;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (sig != SIGSEGV) return real_sigaction()(sig, act, old);
    if (old) *old = app_segv;
    if (act) app_segv = *act;
    return 0;
}

sighandler_t signal(int sig, sighandler_t handler) {
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    act.sa_flags = SA_RESTART;
    sigemptyset(&act.sa_mask);
    if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
    return old.sa_handler;
}

static void on_segv(int sig, siginfo_t *info, void *ctx) {
    ucontext_t *uc = ctx;
    greg_t *g = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)g[REG_RIP];
    if (ip[0] != 0x0f || ip[1] != 0xa2) {
        /* A real fault: the program's handler if it has one, else die as it would have. */
        if (app_segv.sa_flags & SA_SIGINFO) {
            app_segv.sa_sigaction(sig, info, ctx);
        } else if (app_segv.sa_handler != SIG_DFL && app_segv.sa_handler != SIG_IGN) {
            app_segv.sa_handler(sig);
        } else {
            struct sigaction dfl;
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            real_sigaction()(sig, &dfl, NULL);
        }
        return;
    }
    uint32_t r[4];
    uint32_t leaf = (uint32_t)g[REG_RAX], sub = (uint32_t)g[REG_RCX];
    set_cpuid_enabled(1);
    real_cpuid(leaf, sub, r);
    set_cpuid_enabled(0);
    mask(leaf, sub, r);
    g[REG_RAX] = r[0];
    g[REG_RBX] = r[1];
    g[REG_RCX] = r[2];
    g[REG_RDX] = r[3];
    g[REG_RIP] += 2;
}

__attribute__((constructor)) static void cpumask_init(void) {
    const char *p = getenv("CPUMASK");
    if (!p || !strcmp(p, "avx2")) profile = 1;
    else if (!strcmp(p, "sse")) profile = 2;
    else {
        fprintf(stderr, "cpumask: unknown CPUMASK=%s (avx2 or sse)\n", p);
        _exit(2);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK; /* on a thread's alternate stack if it has one: stack overflows */
    sigemptyset(&sa.sa_mask);
    if (real_sigaction()(SIGSEGV, &sa, NULL) != 0 || set_cpuid_enabled(0) != 0) {
        perror("cpumask: cannot make CPUID fault (no cpuid_fault on this CPU?)");
        _exit(2);
    }
}
