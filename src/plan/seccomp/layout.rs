//! The syscall-number dispatch of the filter: a balanced binary tree over runs of numbers that
//! share one outcome, instead of one comparison per syscall in a row.
//!
//! The kernel runs the whole filter once per syscall number when it is installed (to find the
//! numbers it may allow without running it again, `seccomp_cache_prepare`), and runs it on
//! every call it cannot decide that way (the ones with argument rules: ioctl, mmap, clone...).
//! A linear program of ~600 instructions costs both of those its length; the tree costs its
//! depth (about log2 of the number of runs, 8 or 9 comparisons here).
//!
//! Every leaf is a block that ends in a return with all its jumps inside it ([`closed`]), so
//! blocks can be laid out one after another without any falling into the next.

use super::{Op, Verdict};
use std::collections::{BTreeMap, BTreeSet};

/// The dispatch on the syscall number (already loaded in A): for each number, its rule block
/// from `rules`, else `ALLOW` when it is in `allowed`, else the profile's default. Numbers above
/// `top` all get the default.
///
/// Panics if a rule block is not [`closed`] (a bug in the compiler, which makes every block).
pub(super) fn dispatch(
    rules: &BTreeMap<u32, Vec<Op>>,
    allowed: &BTreeSet<u32>,
    top: u32,
) -> Vec<Op> {
    let allow = vec![Op::Ret(Verdict::Allow)];
    let default = vec![Op::Ret(Verdict::Default)];
    let top = top
        .max(rules.keys().next_back().copied().unwrap_or(0))
        .max(allowed.last().copied().unwrap_or(0));
    // Runs of consecutive numbers with the same block: (first number, block). Both maps are
    // walked in step with the numbers (each key is met in order), not searched per number.
    let mut runs: Vec<(u32, &[Op])> = Vec::new();
    let mut rule_of = rules.iter().peekable();
    let mut allows = allowed.iter().peekable();
    for nr in (0..=top).chain(top.checked_add(1)) {
        let rule = rule_of.next_if(|(k, _)| **k == nr).map(|(_, b)| b);
        let allowed = allows.next_if(|k| **k == nr).is_some();
        let block: &[Op] = match rule {
            Some(b) => {
                assert!(closed(b), "seccomp rule block for {nr} is not closed");
                b
            }
            None if allowed => &allow,
            None => &default,
        };
        match runs.last() {
            Some((_, last)) if *last == block => {}
            _ => runs.push((nr, block)),
        }
    }
    let mut out = Vec::new();
    tree(&runs, &mut out);
    out
}

/// Lay out the runs as a search tree: `A >= first number of the upper half` jumps to the upper
/// half, else the lower half follows. A lower half longer than a conditional jump can skip (255)
/// is skipped through an unconditional `ja`.
fn tree(runs: &[(u32, &[Op])], out: &mut Vec<Op>) {
    let [(_, only)] = runs else {
        let mid = runs.len() / 2;
        let mut lower = Vec::new();
        tree(&runs[..mid], &mut lower);
        let pivot = runs[mid].0;
        match u8::try_from(lower.len()) {
            Ok(skip) => out.push(Op::Jge(pivot, skip, 0)),
            Err(_) => {
                let len = u32::try_from(lower.len()).expect("programs are far below 2^32");
                out.push(Op::Jge(pivot, 0, 1));
                out.push(Op::Ja(len));
            }
        }
        out.extend(lower);
        tree(&runs[mid..], out);
        return;
    };
    out.extend_from_slice(only);
}

/// Whether `block` ends in a return and every jump in it lands inside it: laid out anywhere,
/// it decides by itself and never runs on into what follows.
pub(super) fn closed(block: &[Op]) -> bool {
    let inside = |at: usize, offset: usize| at + 1 + offset < block.len();
    matches!(block.last(), Some(Op::Ret(_)))
        && block.iter().enumerate().all(|(at, op)| match *op {
            Op::Jeq(_, t, f)
            | Op::Jgt(_, t, f)
            | Op::Jge(_, t, f)
            | Op::Jset(_, t, f)
            | Op::HandoffFd(t, f) => inside(at, usize::from(t.max(f))),
            Op::Ja(k) => usize::try_from(k).is_ok_and(|k| inside(at, k)),
            Op::Ld(_) | Op::Ret(_) => true,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ret(v: Verdict) -> Op {
        Op::Ret(v)
    }

    #[test]
    fn open_blocks_are_not_closed() {
        assert!(closed(&[ret(Verdict::Allow)]));
        assert!(!closed(&[]));
        assert!(!closed(&[Op::Ld(0)]));
        assert!(!closed(&[Op::Jeq(1, 1, 0), ret(Verdict::Allow)]));
        assert!(closed(&[
            Op::Jeq(1, 1, 0),
            ret(Verdict::Allow),
            ret(Verdict::Default)
        ]));
        assert!(!closed(&[Op::Ja(1), ret(Verdict::Allow)]));
    }

    #[test]
    #[should_panic(expected = "not closed")]
    fn an_open_rule_block_is_a_bug() {
        let rules = BTreeMap::from([(3, vec![Op::Ld(0)])]);
        dispatch(&rules, &BTreeSet::new(), 10);
    }

    /// Which leaf the dispatch reaches for `nr`: the index of the return it ends on.
    fn reach(ops: &[Op], nr: u32) -> usize {
        let mut pc = 0;
        loop {
            match ops[pc] {
                Op::Jge(k, t, f) => pc += 1 + usize::from(if nr >= k { t } else { f }),
                Op::Ja(k) => pc += 1 + k as usize,
                Op::Ld(_) => pc += 1,
                Op::Ret(_) => return pc,
                ref op => panic!("unexpected {op:?} at {pc}"),
            }
        }
    }

    #[test]
    fn every_number_reaches_its_own_leaf_even_past_long_blocks() {
        // Rule blocks of 120 instructions (loads, then a return): lower halves longer than a
        // conditional jump can skip, so the far jumps go through `ja`.
        let block = |nr: u32| {
            let mut b = vec![Op::Ld(0); 119];
            b.push(Op::Ret(Verdict::Harden(i32::try_from(nr).unwrap())));
            b
        };
        let rule_nrs = [0, 5, 6, 40, 41, 300, 301, 302, 450];
        let rules: BTreeMap<u32, Vec<Op>> = rule_nrs.iter().map(|&n| (n, block(n))).collect();
        let allowed: BTreeSet<u32> = (0..460).filter(|n| n % 3 == 0).collect();
        let ops = dispatch(&rules, &allowed, 455);
        assert!(ops.iter().any(|op| matches!(op, Op::Ja(_))));
        for nr in 0..=470 {
            let want = if rules.contains_key(&nr) {
                Op::Ret(Verdict::Harden(i32::try_from(nr).unwrap()))
            } else if nr <= 459 && allowed.contains(&nr) {
                Op::Ret(Verdict::Allow)
            } else {
                Op::Ret(Verdict::Default)
            };
            let at = reach(&ops, nr);
            assert_eq!(ops[at], want, "syscall {nr}");
            if rules.contains_key(&nr) {
                // The whole block runs: the return is its last instruction, after its loads.
                assert_eq!(ops[at - 119..at], [Op::Ld(0); 119][..], "syscall {nr}");
            }
        }
        // Far past the table: the default.
        assert_eq!(ops[reach(&ops, u32::MAX)], Op::Ret(Verdict::Default));
    }

    #[test]
    fn equal_neighbours_share_one_leaf() {
        // 0..=9 allowed, 10.. default: one comparison, two returns.
        let allowed: BTreeSet<u32> = (0..10).collect();
        let ops = dispatch(&BTreeMap::new(), &allowed, 20);
        assert_eq!(
            ops,
            vec![
                Op::Jge(10, 1, 0),
                ret(Verdict::Allow),
                ret(Verdict::Default)
            ]
        );
    }
}
