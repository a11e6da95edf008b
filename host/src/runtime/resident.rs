//! What a plugin keeps resident: the pages of its compiled code mapped from the AOT
//! cache (read from `/proc/self/smaps`, Linux). A best estimate: those pages are page
//! cache, shared by every pier on the machine that maps the same artifact; a warm
//! instance's own pages (`pier_warm_instances`) are not counted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Resident bytes of every file mapped into this process, by path; empty where
/// `/proc/self/smaps` cannot be read.
pub fn mapped_files() -> HashMap<PathBuf, u64> {
    std::fs::read_to_string("/proc/self/smaps")
        .map(|text| parse_smaps(&text))
        .unwrap_or_default()
}

/// The `Rss` of each mapping in `smaps` text, summed by the file it maps.
fn parse_smaps(smaps: &str) -> HashMap<PathBuf, u64> {
    let mut resident = HashMap::new();
    let mut file: Option<&Path> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some(kib) = first
            .strip_suffix(':')
            .filter(|k| *k == "Rss")
            .and(fields.next())
        {
            if let (Some(file), Ok(kib)) = (file, kib.parse::<u64>()) {
                *resident.entry(file.to_path_buf()).or_default() += kib * 1024;
            }
        } else if first.contains('-') && !first.ends_with(':') {
            // A mapping's header: range, perms, offset, device, inode, [path].
            let path = line
                .splitn(6, char::is_whitespace)
                .nth(5)
                .map(str::trim_start);
            file = path.filter(|p| p.starts_with('/')).map(Path::new);
        }
    }
    resident
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_is_summed_per_mapped_file() {
        let smaps = "\
7f00-7f10 r--p 00000000 08:01 42                         /cache/a b.cwasm
Size:                 64 kB
Rss:                  12 kB
7f10-7f20 r-xp 00010000 08:01 42                         /cache/a b.cwasm
Rss:                   8 kB
7f20-7f30 rw-p 00000000 00:00 0 
Rss:                 100 kB
7f30-7f40 rw-p 00000000 00:00 0                          [heap]
Rss:                 100 kB
";
        let resident = parse_smaps(smaps);
        assert_eq!(resident.len(), 1, "{resident:?}");
        assert_eq!(resident[Path::new("/cache/a b.cwasm")], 20 * 1024);
        assert!(parse_smaps("garbage\nRss: x kB\n").is_empty());
    }

    #[test]
    fn this_process_maps_its_own_executable() {
        let exe = std::env::current_exe().unwrap();
        assert!(mapped_files().get(&exe).is_some_and(|&b| b > 0));
    }
}
