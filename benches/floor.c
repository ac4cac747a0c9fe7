/*
 * The kernel's floor for the default profile's walls: the same kernel work a tooljail call asks
 * for, made by the smallest program that can ask for it, so benches/startup.sh can show how much
 * of tooljail's start-up is the kernel's and how much is tooljail's own.
 *
 * What it does, as tooljail does it for `tooljail run -- /bin/true` with the default profile:
 *   - clone3 with the user, mount, pid, ipc, uts, cgroup and network namespaces; the parent
 *     writes the id maps (setgroups deny, uid and gid mapped to 0);
 *   - pid 1 builds a new root on a tmpfs: /usr read-only (bin, lib, lib64, sbin as links into
 *     it), the default profile's /etc files and directories one bind each, a size-capped scratch
 *     tmpfs also bound at /tmp and /dev/shm, a fresh /proc with the masks tooljail sets (/dev/null
 *     over 9 files, an empty tmpfs over 3 directories, 4 directories read-only), a /dev tmpfs
 *     with 6 device binds; the root made read-only; pivot_root, the old root detached;
 *     hostname; lo up;
 *   - pid 1 forks the command, which makes its nested user namespace, drops every capability,
 *     sets no_new_privs, restricts itself with a Landlock ruleset of one rule per bind, installs
 *     a seccomp filter, and execs argv[1..].
 *
 * What it leaves out (and tooljail pays): reading and resolving a profile, a seccomp program of
 * the profile's size (this one allows everything: the kernel's fixed cost of having a filter),
 * the supervisor's seccomp listener, rlimits, output relays, the report and the audit record,
 * and every check. Errors: a line on stderr and exit 125.
 *
 * Built by benches/startup.sh: gcc -O2 -static-pie benches/floor.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) {
    fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
    _exit(125);
}

static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, strlen(text)) < 0)
        die(path);
    close(fd);
}

/* A bind of `src` at `dst` under the new root (made as a file or directory like its source),
 * then made read-only, nosuid, nodev (and noexec unless `exec`). */
static void bind_ro(const char *src, const char *dst, int exec) {
    struct stat st;
    if (stat(src, &st) < 0)
        die(src);
    if (S_ISDIR(st.st_mode)) {
        if (mkdir(dst, 0755) < 0 && errno != EEXIST)
            die(dst);
    } else {
        int fd = open(dst, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0)
            die(dst);
        close(fd);
    }
    if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
        die(dst);
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;
    if (!exec)
        flags |= MS_NOEXEC;
    if (mount(NULL, dst, NULL, flags, NULL) < 0)
        die(dst);
}

static void mount_proc(void) {
    static const char *files[] = {"kcore", "keys", "latency_stats", "timer_list", "timer_stats",
                                  "sched_debug", "sysrq-trigger", "cmdline",
                                  "sys/kernel/random/boot_id"};
    static const char *dirs[] = {"acpi", "asound", "scsi"};
    static const char *ro[] = {"sys", "irq", "bus", "fs"};
    char at[128];
    if (mkdir("proc", 0555) < 0)
        die("mkdir proc");
    if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        die("mount proc");
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(at, sizeof at, "proc/%s", files[i]);
        if (access(at, F_OK) < 0)
            continue;
        if (mount("/dev/null", at, NULL, MS_BIND, NULL) < 0)
            die(at);
        if (mount(NULL, at, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL))
            die(at);
    }
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(at, sizeof at, "proc/%s", dirs[i]);
        if (access(at, F_OK) < 0)
            continue;
        if (mount("tmpfs", at, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "mode=0555,size=4k") < 0)
            die(at);
    }
    for (size_t i = 0; i < sizeof ro / sizeof *ro; i++) {
        snprintf(at, sizeof at, "proc/%s", ro[i]);
        if (access(at, F_OK) < 0)
            continue;
        if (mount(at, at, NULL, MS_BIND | MS_REC, NULL) < 0)
            die(at);
        if (mount(NULL, at, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
                  MS_NOEXEC, NULL) < 0)
            die(at);
    }
}

static void mount_dev(void) {
    static const char *nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
    char src[64], dst[64];
    if (mkdir("dev", 0755) < 0)
        die("mkdir dev");
    if (mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
        die("mount dev");
    for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
        snprintf(src, sizeof src, "/dev/%s", nodes[i]);
        snprintf(dst, sizeof dst, "dev/%s", nodes[i]);
        int fd = open(dst, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0)
            die(dst);
        close(fd);
        if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
            die(dst);
    }
    if (symlink("/proc/self/fd", "dev/fd") < 0 || symlink("/proc/self/fd/0", "dev/stdin") < 0 ||
        symlink("/proc/self/fd/1", "dev/stdout") < 0 ||
        symlink("/proc/self/fd/2", "dev/stderr") < 0)
        die("dev links");
    if (mkdir("dev/shm", 01777) < 0)
        die("mkdir dev/shm");
}

static void new_root(void) {
    static const char *etc[] = {"alternatives", "group", "ld.so.cache", "ld.so.conf",
                                "ld.so.conf.d", "nsswitch.conf", "passwd"};
    char src[64], dst[64];
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        die("make / private");
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
        die("mount the root tmpfs");
    if (chdir("/tmp") < 0)
        die("chdir");
    bind_ro("/usr", "usr", 1);
    if (symlink("usr/bin", "bin") < 0 || symlink("usr/lib", "lib") < 0 ||
        symlink("usr/lib64", "lib64") < 0 || symlink("usr/sbin", "sbin") < 0)
        die("links into /usr");
    if (mkdir("etc", 0755) < 0)
        die("mkdir etc");
    for (size_t i = 0; i < sizeof etc / sizeof *etc; i++) {
        snprintf(src, sizeof src, "/etc/%s", etc[i]);
        snprintf(dst, sizeof dst, "etc/%s", etc[i]);
        bind_ro(src, dst, 0);
    }
    bind_ro("/usr/share/zoneinfo/Etc/UTC", "etc/localtime", 0);
    if (mkdir("scratch", 0755) < 0 || mkdir("tmp", 0755) < 0)
        die("mkdir scratch");
    if (mount("tmpfs", "scratch", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=01777,size=256m") < 0)
        die("mount scratch");
    if (mount("scratch", "tmp", NULL, MS_BIND, NULL) < 0)
        die("bind tmp");
    mount_proc();
    mount_dev();
    if (mount("scratch", "dev/shm", NULL, MS_BIND, NULL) < 0)
        die("bind dev/shm");
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        die("pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        die("detach the old root");
    if (chdir("/") < 0)
        die("chdir /");
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        die("root read-only");
}

static void lo_up(void) {
    struct ifreq req = {0};
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        die("socket");
    strcpy(req.ifr_name, "lo");
    if (ioctl(sock, SIOCGIFFLAGS, &req) < 0)
        die("SIOCGIFFLAGS");
    req.ifr_flags |= IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &req) < 0)
        die("SIOCSIFFLAGS");
    close(sock);
}

static void landlock(void) {
    static const char *paths[] = {"/usr", "/etc/alternatives", "/etc/group", "/etc/ld.so.cache",
                                  "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                                  "/etc/nsswitch.conf", "/etc/passwd", "/scratch", "/tmp",
                                  "/dev", "/proc"};
    struct landlock_ruleset_attr attr = {.handled_access_fs = (1ULL << 16) - 1};
    int ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0)
        die("landlock_create_ruleset");
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        int fd = open(paths[i], O_PATH | O_CLOEXEC);
        if (fd < 0)
            die(paths[i]);
        struct stat st;
        if (fstat(fd, &st) < 0)
            die(paths[i]);
        struct landlock_path_beneath_attr rule = {
            .allowed_access = S_ISDIR(st.st_mode) ? (1ULL << 16) - 1 : 0x7 | (1ULL << 14),
            .parent_fd = fd,
        };
        if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) < 0)
            die(paths[i]);
        close(fd);
    }
    if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
        die("landlock_restrict_self");
    close(ruleset);
}

static void command(char **argv) {
    /* The nested user namespace, its maps written by the command itself here (tooljail's pid 1
     * writes them). */
    if (unshare(CLONE_NEWUSER) < 0)
        die("unshare(CLONE_NEWUSER)");
    write_file("/proc/self/setgroups", "deny");
    write_file("/proc/self/uid_map", "0 0 1");
    write_file("/proc/self/gid_map", "0 0 1");
    for (int cap = 0; cap <= 40; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            die("PR_CAPBSET_DROP");
    struct {
        uint32_t version;
        int pid;
    } hdr = {0x20080522, 0};
    uint32_t data[6] = {0};
    if (syscall(SYS_capset, &hdr, data) < 0)
        die("capset");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        die("no_new_privs");
    landlock();
    struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {.len = 1, .filter = allow};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
        die("seccomp");
    execv(argv[0], argv);
    die(argv[0]);
}

static int pid1(int go, char **argv) {
    char byte;
    if (read(go, &byte, 1) != 0)
        die("wait for the id maps");
    new_root();
    if (sethostname("jail", 4) < 0)
        die("sethostname");
    lo_up();
    pid_t cmd = fork();
    if (cmd < 0)
        die("fork");
    if (cmd == 0)
        command(argv);
    int status;
    if (waitpid(cmd, &status, 0) < 0)
        die("waitpid");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: floor COMMAND [ARG...]\n");
        return 125;
    }
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        die("pipe");
    struct clone_args args = {
        .flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
                 CLONE_NEWCGROUP | CLONE_NEWNET,
        .exit_signal = SIGCHLD,
    };
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0)
        die("clone3");
    if (pid == 0) {
        close(pipefd[1]);
        _exit(pid1(pipefd[0], argv + 1));
    }
    close(pipefd[0]);
    char path[64], map[64];
    snprintf(path, sizeof path, "/proc/%ld/setgroups", pid);
    write_file(path, "deny");
    snprintf(path, sizeof path, "/proc/%ld/uid_map", pid);
    snprintf(map, sizeof map, "0 %u 1", (unsigned)getuid());
    write_file(path, map);
    snprintf(path, sizeof path, "/proc/%ld/gid_map", pid);
    snprintf(map, sizeof map, "0 %u 1", (unsigned)getgid());
    write_file(path, map);
    close(pipefd[1]);
    int status;
    if (waitpid(pid, &status, 0) < 0)
        die("waitpid");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
