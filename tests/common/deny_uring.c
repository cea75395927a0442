/* deny_uring.c - runs a program with io_uring_setup refused, the way a
 * container's seccomp profile or kernel.io_uring_disabled refuses it:
 *   deny_uring ERRNO PROGRAM [ARGS...]     (ERRNO: EPERM, ENOSYS or ENOMEM)
 * A seccomp filter (inherited across exec) makes io_uring_setup fail with
 * that errno; everything else is allowed. Exit 77 when the filter cannot be
 * installed (no seccomp in this kernel), 126 when the exec fails. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "deny_uring: add this architecture's AUDIT_ARCH"
#endif

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int value;
    } errs[] = {{"EPERM", EPERM}, {"ENOSYS", ENOSYS}, {"ENOMEM", ENOMEM}, {"EACCES", EACCES}};
    int err = -1;
    for (size_t i = 0; argc >= 3 && i < sizeof(errs) / sizeof(errs[0]); i++)
        if (!strcmp(argv[1], errs[i].name))
            err = errs[i].value;
    if (err < 0) {
        fprintf(stderr, "usage: deny_uring EPERM|ENOSYS|ENOMEM|EACCES PROGRAM [ARGS...]\n");
        return 2;
    }
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
        fprintf(stderr, "deny_uring: skip: cannot install a seccomp filter: %s\n", strerror(errno));
        return 77;
    }
    execvp(argv[2], argv + 2);
    fprintf(stderr, "deny_uring: %s: %s\n", argv[2], strerror(errno));
    return 126;
}
