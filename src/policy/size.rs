//! Sizes ("64M", "2G") and durations ("30s", "5m") as written in profiles and on the command line.
//! One parser each, used everywhere (profile keys, `--memory`, `--timeout`), so "64M" means the
//! same thing in every place it can be written.

use std::time::Duration;

/// Parse a size in bytes: plain digits (`1048576`), or digits followed by a binary unit
/// `K`, `M`, `G`, `T` (powers of 1024, case-insensitive, optionally written `KiB`, `MiB`…), or
/// `B` for bytes. Decimal units (`MB`) are refused because they are ambiguous.
///
/// `Err` holds what to say after "invalid size \"…\": ".
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    if num.is_empty() {
        return Err(
            "expected a number of bytes, optionally with a unit: 1048576, 64K, 512M, 2G".into(),
        );
    }
    let shift = match unit.trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        "t" | "tib" => 40,
        "kb" | "mb" | "gb" | "tb" => {
            return Err(format!(
                "decimal unit {:?} is ambiguous; use binary units K, M, G, T (powers of 1024)",
                unit.trim_start()
            ))
        }
        // Quoted as Rust debug strings: a control character or newline in the value is shown
        // escaped, so the error stays one line (found by fuzz/size_duration).
        other => {
            return Err(format!(
                "unknown unit {other:?}; use B, K, M, G or T (powers of 1024)"
            ))
        }
    };
    let n: u64 = num.parse().map_err(|_| "number too large".to_string())?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| "size too large (over 2^64 bytes)".to_string())
}

/// Parse a duration with a unit, humantime style: `30s`, `5m`, `1h 30m`, `500ms`. A bare number
/// is refused (seconds or milliseconds? the reader cannot tell).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "a duration needs a unit, e.g. \"{t}s\" or \"{t}ms\""
        ));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("{e}; write a duration like \"30s\", \"5m\" or \"1h 30m\""))
}

/// Format a byte count the way a person would write it in a profile ("256M", "1G", "1000").
pub fn format_size(n: u64) -> String {
    for (shift, unit) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] {
        if n != 0 && n.is_multiple_of(1u64 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512B"), Ok(512));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("2 G"), Ok(2 << 30));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
    }

    #[test]
    fn malformed_sizes_are_refused_with_a_reason() {
        assert!(parse_size("").unwrap_err().contains("expected a number"));
        assert!(parse_size("M").unwrap_err().contains("expected a number"));
        assert!(parse_size("-1").unwrap_err().contains("expected a number"));
        assert!(parse_size("1.5G").unwrap_err().contains("unknown unit"));
        assert!(parse_size("64X")
            .unwrap_err()
            .contains("unknown unit \"x\""));
        assert!(parse_size("64MB").unwrap_err().contains("ambiguous"));
        assert!(parse_size("99999999999999999999")
            .unwrap_err()
            .contains("too large"));
        assert!(parse_size("16777216T").unwrap_err().contains("too large"));
        // A newline or control character in the unit stays escaped: errors are one line.
        let e = parse_size("2s!\u{3}\nJ").unwrap_err();
        assert!(
            !e.contains('\n') && e.contains("\\n") && e.contains("\\u{3}"),
            "{e}"
        );
    }

    #[test]
    fn durations_need_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("30").unwrap_err().contains("\"30s\""));
        assert!(parse_duration("soon").unwrap_err().contains("like \"30s\""));
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn sizes_format_back_to_what_parses() {
        for n in [0, 1, 1000, 1 << 10, 3 << 20, 256 << 20, 1 << 30, 5 << 40] {
            assert_eq!(parse_size(&format_size(n)), Ok(n), "{n}");
        }
        assert_eq!(format_size(256 << 20), "256M");
        assert_eq!(format_size(1000), "1000");
    }
}
