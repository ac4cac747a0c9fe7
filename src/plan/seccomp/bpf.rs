//! Classic BPF as seccomp uses it: the few instructions the compiler emits, a checker for what
//! the kernel's verifier would reject, and a small interpreter.
//!
//! The interpreter is not only for tests: the supervisor runs the *shadow* program (same
//! shape, different return values) on each notification to decide what to answer, so the
//! kernel's decision and the supervisor's answer come from one compiled rule set.

/// One classic BPF instruction, laid out like the kernel's `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// `BPF_LD | BPF_W | BPF_ABS`: load the 32-bit word at offset `k` of `seccomp_data`.
pub const LD_W_ABS: u16 = 0x20;
/// `BPF_JMP | BPF_JEQ | BPF_K`.
pub const JEQ_K: u16 = 0x15;
/// `BPF_JMP | BPF_JGE | BPF_K`.
pub const JGE_K: u16 = 0x35;
/// `BPF_JMP | BPF_JGT | BPF_K`.
pub const JGT_K: u16 = 0x25;
/// `BPF_JMP | BPF_JSET | BPF_K`: jump if `A & k != 0`.
pub const JSET_K: u16 = 0x45;
/// `BPF_JMP | BPF_JA`.
pub const JA: u16 = 0x05;
/// `BPF_RET | BPF_K`.
pub const RET_K: u16 = 0x06;
/// `BPF_ALU | BPF_AND | BPF_K`.
pub const AND_K: u16 = 0x54;

/// `BPF_MAXINSNS`: the kernel refuses longer programs.
pub const MAX_INSNS: usize = 4096;

/// Size of `struct seccomp_data` (nr, arch, instruction_pointer, args[6]).
pub const DATA_LEN: u32 = 64;
/// Offset of `seccomp_data.nr`.
pub const OFF_NR: u32 = 0;
/// Offset of `seccomp_data.arch`.
pub const OFF_ARCH: u32 = 4;

/// Offset of the low 32 bits of `seccomp_data.args[i]`. Both supported architectures are
/// little-endian, so the low half comes first. Syscalls whose argument is an `int` (fds,
/// socket domains, clone flags, ioctl requests) see only these bits: the kernel truncates, so
/// the filter must compare exactly these bits and ignore the high half (CVE-2019-7303).
pub const fn arg_lo(i: u32) -> u32 {
    16 + 8 * i
}

#[cfg(not(target_endian = "little"))]
compile_error!("the seccomp compiler assumes a little-endian seccomp_data layout");

impl Insn {
    pub const fn stmt(code: u16, k: u32) -> Insn {
        Insn {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
        Insn { code, jt, jf, k }
    }
}

/// The input of a seccomp filter, as the kernel builds it for each syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeccompData {
    pub nr: u32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    /// A syscall on `arch` with these arguments (missing ones are zero).
    pub fn new(arch: u32, nr: u32, args: &[u64]) -> SeccompData {
        let mut a = [0u64; 6];
        for (slot, v) in a.iter_mut().zip(args) {
            *slot = *v;
        }
        SeccompData {
            nr,
            arch,
            instruction_pointer: 0,
            args: a,
        }
    }

    /// The 32-bit word at byte offset `off` (little-endian layout), as `BPF_LD|BPF_W|BPF_ABS`
    /// reads it. `None` for an unaligned or out-of-range offset (the kernel rejects those).
    pub fn word(&self, off: u32) -> Option<u32> {
        if !off.is_multiple_of(4) || off >= DATA_LEN {
            return None;
        }
        Some(match off {
            0 => self.nr,
            4 => self.arch,
            8 => low_word(self.instruction_pointer),
            12 => high_word(self.instruction_pointer),
            _ => {
                let i = usize::try_from((off - 16) / 8).ok()?;
                if (off - 16).is_multiple_of(8) {
                    low_word(self.args[i])
                } else {
                    high_word(self.args[i])
                }
            }
        })
    }
}

/// The low 32 bits of a 64-bit field (what a BPF word load at its offset reads).
fn low_word(x: u64) -> u32 {
    u32::try_from(x & 0xffff_ffff).unwrap_or(0)
}

/// The high 32 bits of a 64-bit field.
fn high_word(x: u64) -> u32 {
    u32::try_from(x >> 32).unwrap_or(0)
}

/// Check what the kernel's `seccomp_check_filter`/`bpf_check_classic` would reject, for the
/// instructions this module knows: empty or oversized program, unknown opcode, load outside
/// `seccomp_data`, a jump past the end, a last instruction that is not a return.
pub fn check(prog: &[Insn]) -> Result<(), String> {
    if prog.is_empty() {
        return Err("empty program".into());
    }
    if prog.len() > MAX_INSNS {
        return Err(format!("{} instructions (max {MAX_INSNS})", prog.len()));
    }
    for (i, ins) in prog.iter().enumerate() {
        match ins.code {
            LD_W_ABS => {
                if ins.k % 4 != 0 || ins.k >= DATA_LEN {
                    return Err(format!("insn {i}: load at bad offset {}", ins.k));
                }
            }
            JEQ_K | JGE_K | JGT_K | JSET_K => {
                let far = i + 1 + usize::from(ins.jt.max(ins.jf));
                if far >= prog.len() {
                    return Err(format!("insn {i}: jump past the end"));
                }
            }
            JA => {
                if i + 1 + ins.k as usize >= prog.len() {
                    return Err(format!("insn {i}: jump past the end"));
                }
            }
            RET_K | AND_K => {}
            c => return Err(format!("insn {i}: unsupported opcode {c:#x}")),
        }
    }
    if prog[prog.len() - 1].code != RET_K {
        return Err("last instruction is not a return".into());
    }
    Ok(())
}

/// Run `prog` on `data` and return the filter's 32-bit result, exactly as the kernel would for
/// the instructions [`check`] accepts.
pub fn run(prog: &[Insn], data: &SeccompData) -> Result<u32, String> {
    check(prog)?;
    run_checked(prog, data)
}

/// [`run`] for a program that already passed [`check`] (which a program is checked once, not
/// on every run). Given any other program it still never reads out of bounds: it errs, or
/// returns what the instructions say.
pub fn run_checked(prog: &[Insn], data: &SeccompData) -> Result<u32, String> {
    let mut a: u32 = 0;
    let mut pc = 0usize;
    // Classic BPF jumps only forward, so each step moves pc forward: this terminates.
    while pc < prog.len() {
        let ins = prog[pc];
        pc += 1;
        match ins.code {
            LD_W_ABS => a = data.word(ins.k).ok_or("bad load")?,
            AND_K => a &= ins.k,
            RET_K => return Ok(ins.k),
            JA => pc += ins.k as usize,
            code => {
                let taken = match code {
                    JEQ_K => a == ins.k,
                    JGE_K => a >= ins.k,
                    JGT_K => a > ins.k,
                    JSET_K => a & ins.k != 0,
                    _ => return Err(format!("unsupported opcode {code:#x}")),
                };
                pc += usize::from(if taken { ins.jt } else { ins.jf });
            }
        }
    }
    Err("fell off the end".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_follow_the_kernel_layout() {
        let d = SeccompData::new(7, 42, &[0x1111_2222_3333_4444, 5]);
        assert_eq!(d.word(OFF_NR), Some(42));
        assert_eq!(d.word(OFF_ARCH), Some(7));
        assert_eq!(d.word(arg_lo(0)), Some(0x3333_4444));
        assert_eq!(d.word(arg_lo(0) + 4), Some(0x1111_2222));
        assert_eq!(d.word(arg_lo(1)), Some(5));
        assert_eq!(d.word(arg_lo(5) + 4), Some(0));
        assert_eq!(d.word(64), None);
        assert_eq!(d.word(2), None);
    }

    #[test]
    fn interpreter_and_checker() {
        let p = [
            Insn::stmt(LD_W_ABS, OFF_NR),
            Insn::jump(JEQ_K, 3, 0, 1),
            Insn::stmt(RET_K, 1),
            Insn::jump(JSET_K, 0x8, 1, 0),
            Insn::stmt(RET_K, 2),
            Insn::stmt(RET_K, 3),
        ];
        assert_eq!(run(&p, &SeccompData::new(0, 3, &[])), Ok(1));
        assert_eq!(run(&p, &SeccompData::new(0, 4, &[])), Ok(2));
        assert_eq!(run(&p, &SeccompData::new(0, 8, &[])), Ok(3));
        assert!(check(&[]).is_err());
        assert!(check(&[Insn::jump(JEQ_K, 0, 1, 0), Insn::stmt(RET_K, 0)]).is_err());
        assert!(check(&[Insn::stmt(LD_W_ABS, 3), Insn::stmt(RET_K, 0)]).is_err());
        assert!(check(&[Insn::stmt(LD_W_ABS, 0)]).is_err());
        assert!(check(&[Insn::stmt(0x07, 0), Insn::stmt(RET_K, 0)]).is_err());
    }
}
