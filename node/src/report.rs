//! The node's counters as an operator reads them: one aligned line per
//! counter, named by its path (`dht.nodes_requests_answered`), zeros left
//! out — instead of one Debug line with hundreds of fields.
//!
//! The counters are plain structs of integers, nested; their derived
//! `Debug` text is flattened here rather than each struct listing its
//! fields a second time, so a counter added to any layer shows up without
//! touching this file.

/// The non-zero counters of `stats` (anything whose `Debug` is nested
/// `Name { field: value, .. }`), one `path  value` line each, aligned;
/// and how many were zero.
pub fn counter_table(stats: &impl std::fmt::Debug) -> String {
    let text = format!("{stats:?}");
    let mut rows = Vec::new();
    let mut zeros = 0usize;
    let mut path: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut value = String::new();
    let mut in_value = false;
    let mut flush = |field: &mut String,
                     value: &mut String,
                     path: &[String],
                     rows: &mut Vec<(String, String)>| {
        let v = value.trim();
        if !field.trim().is_empty() && !v.is_empty() {
            if v == "0" || v == "0.0" || v == "false" {
                zeros += 1;
            } else {
                let mut name = path.join(".");
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(field.trim());
                rows.push((name, v.to_owned()));
            }
        }
        field.clear();
        value.clear();
    };
    for c in text.chars() {
        match c {
            '{' => {
                // `field: Type {` opens a nested struct named by the field
                // (the outermost has no field: it stays unnamed).
                if in_value && !field.trim().is_empty() {
                    path.push(field.trim().to_owned());
                }
                field.clear();
                value.clear();
                in_value = false;
            }
            '}' => {
                flush(&mut field, &mut value, &path, &mut rows);
                in_value = false;
                path.pop();
            }
            ',' => {
                flush(&mut field, &mut value, &path, &mut rows);
                in_value = false;
            }
            ':' if !in_value => in_value = true,
            c if in_value => value.push(c),
            c => field.push(c),
        }
    }
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (name, value) in &rows {
        out.push_str(&format!("  {name:<width$}  {value:>12}\n"));
    }
    out.push_str(&format!("  ({zeros} counters at zero not shown)"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Read through Debug only.
    #[allow(dead_code)]
    #[derive(Debug, Default)]
    struct Inner {
        answered: u64,
        dropped: u64,
    }

    #[allow(dead_code)]
    #[derive(Debug, Default)]
    struct Outer {
        dht: Inner,
        datagrams_received: u64,
        errors: u64,
    }

    #[test]
    fn nested_counters_become_aligned_named_lines() {
        let stats = Outer {
            dht: Inner {
                answered: 12,
                dropped: 0,
            },
            datagrams_received: 34_567,
            errors: 0,
        };
        let table = counter_table(&stats);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines[0].trim_start().starts_with("dht.answered"), "{table}");
        assert!(lines[0].ends_with(" 12"), "{table}");
        assert!(
            lines[1].trim_start().starts_with("datagrams_received"),
            "{table}"
        );
        assert!(lines[1].ends_with(" 34567"), "{table}");
        assert_eq!(lines[0].len(), lines[1].len(), "aligned: {table}");
        assert_eq!(lines[2], "  (2 counters at zero not shown)");
    }

    #[test]
    fn the_drivers_own_counters_flatten() {
        let dht = toxide::dht::Stats {
            dropped_malformed: 7,
            ..Default::default()
        };
        let stats = toxide::driver::DriverStats {
            datagrams_received: 5,
            dht,
            ..Default::default()
        };
        let table = counter_table(&stats);
        assert!(table.contains("datagrams_received"), "{table}");
        assert!(table.contains("dht.dropped_malformed"), "{table}");
        assert!(!table.contains('{') && !table.contains('}'), "{table}");
    }
}
