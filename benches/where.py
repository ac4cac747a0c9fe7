#!/usr/bin/env python3
"""Where a call's CPU and page faults go: the analysis half of benches/where.sh.

  where.py cpu TOOLJAIL_SCRIPT FLOOR_SCRIPT CALLS HZ
      `perf script -F comm,ip,sym,dso` of `perf record -a -g -F HZ` over CALLS calls of
      tooljail and of the floor: each sample is charged to the syscall it was in (its outermost
      `__x64_sys_*` frame), to page faults, to user space, or to the rest of the kernel, and
      printed in ms per call side by side.
  where.py roles TOOLJAIL_SUMMARY FLOOR_SUMMARY CALLS
      `perf sched timehist -s` of `perf sched record` over CALLS calls of tooljail and of the
      floor: each process's time on a CPU, summed by its part in a call (the launcher: the
      supervisor or the floor's parent; root's helper; pid 1; the command, before and after
      its execve), in ms per call side by side.
  where.py faults SCRIPT CALLS BINARY
      `perf script --show-mmap-events -F comm,pid,addr,dso` of `perf record -e page-faults -c 1
      -d` over CALLS calls: faults per call by process (the process that exec'd BINARY, then
      its children in the order they were made) and by region (BINARY's sections, heap,
      stack, other).
"""

import collections
import re
import subprocess
import sys

SYSCALL = re.compile(r"(?:__x64_sys_|__do_sys_|__se_sys_)(\w+)")


def cpu_by_place(path, comms):
    """Samples by where they were taken, and the number of samples in all."""
    counts = collections.Counter()
    for block in open(path, encoding="utf-8", errors="replace").read().split("\n\n"):
        lines = block.strip().split("\n")
        if not lines or not lines[0].split() or lines[0].split()[0] not in comms:
            continue
        frames = lines[1:]
        place = None
        for frame in reversed(frames):
            m = SYSCALL.search(frame)
            if m:
                place = "syscall " + m.group(1)
                break
            if "exc_page_fault" in frame:
                place = "page faults"
                break
        if place is None:
            in_kernel = frames and "[kernel.kallsyms]" in frames[0]
            place = "the kernel, outside syscalls" if in_kernel else "user space"
        counts[place] += 1
    return counts


def cpu(tooljail, floor, calls, hz):
    ms = 1000.0 / hz / calls
    tj = cpu_by_place(tooljail, {"tooljail", "true"})
    fl = cpu_by_place(floor, {"floor", "true"})
    print(f"CPU per call, sampled at {hz} Hz: perf's own work at each fork, exec and mapping")
    print("inflates both columns, the floor's smaller call more; compare rows, not totals")
    print(f"{'':40} {'tooljail':>9} {'floor':>9}")
    rows = sorted(set(tj) | set(fl), key=lambda k: -(tj[k] + fl[k]))
    for place in rows[:30]:
        print(f"{place:40} {tj[place] * ms:7.2f}ms {fl[place] * ms:7.2f}ms")
    print(f"{'all':40} {sum(tj.values()) * ms:7.2f}ms {sum(fl.values()) * ms:7.2f}ms")


SUMMARY_ROW = re.compile(r"^\s*(\S+)\[(\d+)\]\s+(\d+)\s+\d+\s+([\d.]+)")


def time_by_role(path, launcher):
    """ms on CPU by part of a call, from `perf sched timehist -s`, and the number of calls."""
    procs = {}
    for line in open(path, encoding="utf-8", errors="replace"):
        m = SUMMARY_ROW.match(line)
        if m:
            procs[int(m.group(2))] = (m.group(1), int(m.group(3)), float(m.group(4)))
    children = collections.defaultdict(list)
    for pid, (_, parent, _) in procs.items():
        children[parent].append(pid)
    roles, calls = collections.Counter(), 0
    for pid, (comm, parent, ms) in procs.items():
        # A call's first process: the launcher, started by the loop's shell.
        if comm != launcher or procs.get(parent, ("",))[0] == launcher:
            continue
        calls += 1
        roles["the launcher"] += ms
        for child in children[pid]:
            grand = children[child]
            roles["pid 1" if grand else "root's helper"] += procs[child][2]
            for g in grand:
                roles["the command"] += procs[g][2] + sum(procs[d][2] for d in children[g])
    return roles, calls


def by_role(tooljail, floor, calls):
    tj, tj_calls = time_by_role(tooljail, "tooljail")
    fl, fl_calls = time_by_role(floor, "floor")
    if tj_calls != calls or fl_calls != calls:
        print(f"(found {tj_calls} tooljail and {fl_calls} floor calls of {calls}: other "
              "processes of those names ran)")
    print("CPU per call by process (perf sched: time on a CPU; its tracing of every switch")
    print("inflates both columns; the command's row includes /bin/true itself)")
    print(f"{'':40} {'tooljail':>9} {'floor':>9}")
    for role in ["the launcher", "root's helper", "pid 1", "the command"]:
        print(f"{role:40} {tj[role] / max(tj_calls, 1):7.2f}ms {fl[role] / max(fl_calls, 1):7.2f}ms")
    print(f"{'all':40} {sum(tj.values()) / max(tj_calls, 1):7.2f}ms "
          f"{sum(fl.values()) / max(fl_calls, 1):7.2f}ms")


def sections(binary):
    """(start, end, name) of the binary's allocated sections, by virtual address."""
    out = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True).stdout
    found = []
    for m in re.finditer(r"\]\s+(\.\S+)\s+\S+\s+([0-9a-f]{16})\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(\S*A\S*)", out):
        name, addr, size = m.group(1), int(m.group(2), 16), int(m.group(3), 16)
        if addr and size:
            found.append((addr, addr + size, name))
    return sorted(found)


def faults(path, calls, binary):
    secs = sections(binary)
    name = binary.rsplit("/", 1)[-1]
    mmap = re.compile(r"(\d+)/\d+: \[(0x[0-9a-f]+)\((0x[0-9a-f]+)\) @ (0x[0-9a-f]+|0) .*\]: \S+ (\S+)")
    # A child maps the binary where the process it was forked from did: the last supervisor.
    base, roles, counts = {}, {}, collections.Counter()
    current, children = None, 0
    for line in open(path, encoding="utf-8", errors="replace"):
        if "PERF_RECORD_MMAP" in line:
            m = mmap.search(line)
            if m and m.group(5).endswith("/" + name) and int(m.group(4), 16) == 0:
                pid = int(m.group(1))
                current = base[pid] = int(m.group(2), 16)
                roles[pid], children = "supervisor", 0
            continue
        f = line.split()
        if len(f) < 4 or f[0] != name:
            continue
        pid, addr, dso = int(f[1].split("/")[0]), int(f[2], 16), f[3]
        if pid not in roles:
            children += 1
            roles[pid] = f"child {children}"
            base[pid] = current
        if name in dso and base[pid] is not None:
            off = addr - base[pid]
            region = next((s for lo, hi, s in secs if lo <= off < hi), "other")
            region = f"{name} {region}"
        else:
            region = dso.strip("()")
        counts[(roles[pid], region)] += 1
    print(f"page faults per call, by process and region ({calls} calls)")
    print("(the children are pid 1 and the command before its execve; as root with a report")
    print(" file, root's helper first)")
    total = collections.Counter()
    for (role, region), n in sorted(counts.items()):
        total[role] += n
        print(f"  {role:11} {region:32} {n / calls:6.1f}")
    for role, n in sorted(total.items()):
        print(f"  {role:11} {'all':32} {n / calls:6.1f}")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "cpu":
        cpu(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif len(sys.argv) == 5 and sys.argv[1] == "roles":
        by_role(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 5 and sys.argv[1] == "faults":
        faults(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(__doc__)
