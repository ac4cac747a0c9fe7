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
 *     over 9 files, an empty tmpfs over 3 directories, 4 directories read-only) and the IPC and
 *     inotify sysctls it lowers, a /dev tmpfs with 6 device binds and a private devpts, made
 *     read-only; the root made read-only; pivot_root, the old root detached; hostname; lo up;
 *   - pid 1 forks the command, which makes its nested user namespace, drops every capability,
 *     sets no_new_privs and the default profile's rlimits, restricts itself with the same 26
 *     Landlock rules and scopes, installs the default profile's seccomp program with a listener
 *     (x86_64: the program tooljail installs, 287 instructions, its supervisor's verdicts made
 *     ALLOW; elsewhere a one-instruction filter), and execs argv[1..].
 *
 * What it leaves out (and tooljail pays): reading and resolving a profile, serving the seccomp
 * listener, output relays, the report and the audit record, and every check. Errors: a line on
 * stderr and exit 125.
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
#include <sys/resource.h>
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
 * then made read-only, nosuid, nodev (and noexec unless `exec`). A source this host does not
 * have is skipped, so the bench runs on hosts without some of the default profile's files. */
static void bind_ro(const char *src, const char *dst, int exec) {
    struct stat st;
    if (stat(src, &st) < 0) {
        if (errno == ENOENT)
            return;
        die(src);
    }
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

/* The IPC namespace's limits and the user namespace's inotify caps, lowered as tooljail's
 * pid 1 lowers them (src/jail/sysctl.rs): each read, then written. */
static void lower_sysctls(void) {
    static const char *files[][2] = {
        {"proc/sys/kernel/msgmnb", NULL},
        {"proc/sys/kernel/shmmax", "268435456"},
        {"proc/sys/kernel/shmall", "65536"},
        {"proc/sys/kernel/msgmni", "16"},
        {"proc/sys/kernel/sem", "32000 4096 500 32000"},
        {"proc/sys/user/max_inotify_instances", "128"},
        {"proc/sys/user/max_inotify_watches", "16384"},
    };
    char buf[128];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        int fd = open(files[i][0], (files[i][1] ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0 || read(fd, buf, sizeof buf) < 0)
            die(files[i][0]);
        if (files[i][1] && pwrite(fd, files[i][1], strlen(files[i][1]), 0) < 0)
            die(files[i][0]);
        close(fd);
    }
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
    lower_sysctls();
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
        symlink("/proc/self/fd/2", "dev/stderr") < 0 || symlink("pts/ptmx", "dev/ptmx") < 0)
        die("dev links");
    if (mkdir("dev/pts", 0755) < 0 || mkdir("dev/shm", 01777) < 0)
        die("mkdir dev/pts, dev/shm");
    if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
              "newinstance,ptmxmode=0666,mode=0620") < 0)
        die("mount dev/pts");
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
    if (mount(NULL, "dev", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL))
        die("dev read-only");
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

/* landlock_ruleset_attr with the scopes of Landlock ABI 6 (newer than this system's header). */
struct ruleset_attr {
    uint64_t handled_access_fs, handled_access_net, scoped;
};

static void landlock(void) {
    static const char *paths[] = {
        "/", "/bin", "/etc/alternatives", "/etc/group", "/etc/ld.so.cache", "/etc/ld.so.conf",
        "/etc/ld.so.conf.d", "/etc/localtime", "/etc/nsswitch.conf", "/etc/passwd", "/lib",
        "/lib64", "/sbin", "/usr", "/scratch", "/tmp", "/dev/shm", "/dev/null", "/dev/zero",
        "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/proc", "/dev", "/dev/pts"};
    /* Every filesystem right of ABI 5; abstract unix sockets and signals scoped (ABI 6). */
    struct ruleset_attr attr = {.handled_access_fs = (1ULL << 16) - 1, .scoped = 0x3};
    int ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0)
        die("landlock_create_ruleset");
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        int fd = open(paths[i], O_PATH | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
            continue;
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

#if defined(__x86_64__)
/* The program tooljail installs for the default profile on x86_64 (read back from a jailed
 * process with PTRACE_SECCOMP_GET_FILTER): the architecture check, a binary search over runs of
 * syscall numbers, argument checks for the calls that have them. Its USER_NOTIF verdicts (the
 * ones tooljail's supervisor answers: denials, and the calls it watches, execve among them) are
 * ALLOW here, where no supervisor answers: the same program, shape and size. When the default
 * profile's program changes, read it again from a jailed `sleep` (PTRACE_SECCOMP_GET_FILTER,
 * as root) and replace the table. */
static const struct sock_filter program[] = {
    {0x20,0,0,0x4}, {0x15,1,0,0xc000003e}, {0x06,0,0,0x80000000}, {0x20,0,0,0x0},
    {0x45,0,1,0x40000000}, {0x06,0,0,0x80000000}, {0x35,158,0,0xe7}, {0x35,101,0,0x87},
    {0x35,69,0,0x35}, {0x35,37,0,0x10}, {0x35,11,0,0x4}, {0x35,1,0,0x2},
    {0x06,0,0,0x7fff0000}, {0x35,4,0,0x3}, {0x20,0,0,0x18}, {0x45,0,1,0x243},
    {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x20,0,0,0x10}, {0x15,0,1,0xff},
    {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0x9}, {0x06,0,0,0x7fff0000},
    {0x35,21,0,0xa}, {0x20,0,0,0x20}, {0x45,0,3,0x4}, {0x20,0,0,0x30},
    {0x15,1,0,0xffffffff}, {0x06,0,0,0x7fff0000}, {0x20,0,0,0x1c}, {0x25,12,0,0x1},
    {0x15,0,2,0x1}, {0x20,0,0,0x18}, {0x25,9,0,0x0}, {0x20,0,0,0x20},
    {0x45,0,8,0x2}, {0x20,0,0,0x28}, {0x45,6,0,0x111}, {0x20,0,0,0x1c},
    {0x25,3,0,0x0}, {0x15,0,3,0x0}, {0x20,0,0,0x18}, {0x25,0,1,0x40000000},
    {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,15,0,0x16},
    {0x35,8,0,0x11}, {0x20,0,0,0x18}, {0x15,4,0,0x5412}, {0x15,3,0,0x541c},
    {0x15,2,0,0x5423}, {0x15,1,0,0x540c}, {0x15,0,1,0x541d}, {0x06,0,0,0x7fff0000},
    {0x06,0,0,0x7fff0000}, {0x35,1,0,0x15}, {0x06,0,0,0x7fff0000}, {0x20,0,0,0x18},
    {0x45,0,1,0x1}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,11,0,0x2a},
    {0x35,1,0,0x29}, {0x06,0,0,0x7fff0000}, {0x20,0,0,0x10}, {0x15,6,0,0x1},
    {0x15,5,0,0x2}, {0x15,4,0,0xa}, {0x15,0,2,0x10}, {0x20,0,0,0x20},
    {0x15,1,0,0x0}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0x2b},
    {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,17,0,0x65}, {0x35,11,0,0x39},
    {0x35,4,0,0x36}, {0x20,0,0,0x10}, {0x15,1,0,0x1}, {0x06,0,0,0x7fff0000},
    {0x06,0,0,0x7fff0000}, {0x35,1,0,0x38}, {0x06,0,0,0x7fff0000}, {0x20,0,0,0x10},
    {0x45,0,1,0x7e020000}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0x3b},
    {0x06,0,0,0x7fff0000}, {0x35,1,0,0x3c}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000},
    {0x35,5,0,0x68}, {0x35,1,0,0x66}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0x67},
    {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,3,0,0x7f}, {0x35,1,0,0x7e},
    {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0x86}, {0x06,0,0,0x7fff0000},
    {0x06,0,0,0x7fff0000}, {0x35,30,0,0xa3}, {0x35,16,0,0x9b}, {0x35,10,0,0x8b},
    {0x35,6,0,0x88}, {0x20,0,0,0x10}, {0x15,3,0,0x0}, {0x15,2,0,0x8},
    {0x15,1,0,0xffffffff}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0x89},
    {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0x8c}, {0x06,0,0,0x7fff0000},
    {0x35,1,0,0x99}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,5,0,0x9f},
    {0x35,1,0,0x9c}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0x9d}, {0x06,0,0,0x7fff0000},
    {0x06,0,0,0x7fff0000}, {0x35,3,0,0xa1}, {0x35,1,0,0xa0}, {0x06,0,0,0x7fff0000},
    {0x06,0,0,0x7fff0000}, {0x35,1,0,0xa2}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000},
    {0x35,11,0,0xba}, {0x35,5,0,0xaa}, {0x35,1,0,0xa4}, {0x06,0,0,0x7fff0000},
    {0x35,1,0,0xa5}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0xaf},
    {0x06,0,0,0x7fff0000}, {0x35,1,0,0xb1}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000},
    {0x35,5,0,0xd6}, {0x35,1,0,0xd4}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0xd5},
    {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,3,0,0xe3}, {0x35,1,0,0xd8},
    {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0xe4}, {0x06,0,0,0x7fff0000},
    {0x06,0,0,0x7fff0000}, {0x35,60,0,0x13a}, {0x35,34,0,0x111}, {0x35,14,0,0xf8},
    {0x35,8,0,0xed}, {0x35,4,0,0xe8}, {0x20,0,0,0x10}, {0x45,0,1,0xff},
    {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0xec}, {0x06,0,0,0x7fff0000},
    {0x06,0,0,0x7fff0000}, {0x35,1,0,0xf6}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0xf7},
    {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,8,0,0x102}, {0x35,1,0,0xfb},
    {0x06,0,0,0x7fff0000}, {0x35,1,0,0x101}, {0x06,0,0,0x7fff0000}, {0x20,0,0,0x20},
    {0x45,0,1,0x243}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,6,0,0x10e},
    {0x35,1,0,0x10d}, {0x06,0,0,0x7fff0000}, {0x20,0,0,0x20}, {0x45,0,1,0x1},
    {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0x110}, {0x06,0,0,0x7fff0000},
    {0x06,0,0,0x7fff0000}, {0x35,11,0,0x131}, {0x35,5,0,0x12c}, {0x35,1,0,0x12a},
    {0x06,0,0,0x7fff0000}, {0x35,1,0,0x12b}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000},
    {0x35,1,0,0x12e}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0x12f}, {0x06,0,0,0x7fff0000},
    {0x06,0,0,0x7fff0000}, {0x35,5,0,0x135}, {0x35,1,0,0x132}, {0x06,0,0,0x7fff0000},
    {0x35,1,0,0x134}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,3,0,0x138},
    {0x35,1,0,0x136}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0x139},
    {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,32,0,0x1b7}, {0x35,18,0,0x150},
    {0x35,12,0,0x142}, {0x35,1,0,0x13f}, {0x06,0,0,0x7fff0000}, {0x35,8,0,0x140},
    {0x20,0,0,0x18}, {0x45,0,1,0x4}, {0x06,0,0,0x7fff0000}, {0x45,0,1,0x10},
    {0x06,0,0,0x7fff0000}, {0x45,0,1,0x8}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000},
    {0x06,0,0,0x7fff0000}, {0x35,1,0,0x143}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0x144},
    {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,5,0,0x1b2}, {0x35,1,0,0x1a8},
    {0x06,0,0,0x7fff0000}, {0x35,1,0,0x1a9}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000},
    {0x35,3,0,0x1b4}, {0x35,1,0,0x1b3}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x50026},
    {0x35,1,0,0x1b6}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,14,0,0x1bf},
    {0x35,8,0,0x1ba}, {0x35,4,0,0x1b8}, {0x20,0,0,0x20}, {0x45,0,1,0x1},
    {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0x1b9}, {0x06,0,0,0x7fff0000},
    {0x06,0,0,0x7fff0000}, {0x35,1,0,0x1bb}, {0x06,0,0,0x7fff0000}, {0x35,1,0,0x1bc},
    {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000}, {0x35,5,0,0x1ce}, {0x35,1,0,0x1c1},
    {0x06,0,0,0x7fff0000}, {0x35,1,0,0x1c9}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000},
    {0x35,3,0,0x1d4}, {0x35,1,0,0x1d3}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000},
    {0x35,1,0,0x1d6}, {0x06,0,0,0x7fff0000}, {0x06,0,0,0x7fff0000},
};
#endif

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
    static const struct {
        int resource;
        rlim_t limit;
    } limits[] = {{RLIMIT_CPU, 60},          {RLIMIT_NOFILE, 1024},   {RLIMIT_FSIZE, 256 << 20},
                  {RLIMIT_CORE, 0},          {RLIMIT_NPROC, 256},     {RLIMIT_DATA, 1UL << 30},
                  {RLIMIT_AS, 16UL << 30},   {RLIMIT_MEMLOCK, 0},     {RLIMIT_MSGQUEUE, 0}};
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        struct rlimit rl = {limits[i].limit, limits[i].limit};
        if (setrlimit(limits[i].resource, &rl) < 0)
            die("setrlimit");
    }
    landlock();
#if defined(__x86_64__)
    struct sock_fprog prog = {.len = sizeof program / sizeof *program,
                              .filter = (struct sock_filter *)program};
#else
    struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {.len = 1, .filter = allow};
#endif
    int listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                           &prog);
    if (listener < 0)
        die("seccomp");
    close(listener);
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
