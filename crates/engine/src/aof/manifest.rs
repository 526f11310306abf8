//! The AOF manifest, byte for byte as Redis 7.0 writes it (`aof.c`, `getAofManifestAsString`):
//! one line per file, `file <name> seq <n> type <b|h|i>`, the base first, then history, then the
//! incremental files in order. Kept apart because it is the one place file names are decided.

/// What a file of the AOF is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The base: an RDB (preamble) or an AOF snapshot of the dataset.
    Base,
    /// Replaced by a rewrite, waiting to be deleted.
    History,
    /// Commands appended after the base.
    Incr,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Base => 'b',
            Kind::History => 'h',
            Kind::Incr => 'i',
        }
    }
}

/// One file listed in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name (inside the AOF directory).
    pub name: String,
    /// Its sequence number.
    pub seq: u64,
    /// What it is.
    pub kind: Kind,
}

/// The manifest: which files make up the AOF, in load order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base file, if any.
    pub base: Option<Entry>,
    /// Incremental files, oldest first.
    pub incrs: Vec<Entry>,
    /// Files a rewrite replaced (deleted once the new manifest is on disk).
    pub history: Vec<Entry>,
}

impl Manifest {
    /// Parse a manifest; the error names the line.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let mut name = None;
            let mut seq = None;
            let mut kind = None;
            for pair in words.chunks(2) {
                let [k, v] = pair else {
                    return Err(format!("Invalid AOF manifest file format (line {})", i + 1));
                };
                match *k {
                    "file" => name = Some(v.to_string()),
                    "seq" => seq = v.parse::<u64>().ok(),
                    "type" => {
                        kind = match *v {
                            "b" => Some(Kind::Base),
                            "h" => Some(Kind::History),
                            "i" => Some(Kind::Incr),
                            _ => None,
                        }
                    }
                    // Unknown keys are skipped, as Redis does (forward compatibility).
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(format!("Invalid AOF manifest file format (line {})", i + 1));
            };
            if name.contains('/') || name.starts_with('.') {
                return Err(format!(
                    "Invalid AOF manifest file format (line {}): file name {name:?} leaves the AOF directory",
                    i + 1
                ));
            }
            let e = Entry { name, seq, kind };
            match kind {
                Kind::Base => {
                    if m.base.is_some() {
                        return Err(format!(
                            "Found duplicate base file information (line {})",
                            i + 1
                        ));
                    }
                    m.base = Some(e);
                }
                Kind::History => m.history.push(e),
                Kind::Incr => {
                    if m.incrs.last().is_some_and(|l| l.seq >= seq) {
                        return Err(format!(
                            "Found a non-monotonic sequence number (line {})",
                            i + 1
                        ));
                    }
                    m.incrs.push(e)
                }
            }
        }
        if m.base.is_none() && m.incrs.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(m)
    }

    /// The manifest's text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for e in self
            .base
            .iter()
            .chain(self.history.iter())
            .chain(self.incrs.iter())
        {
            s.push_str(&format!(
                "file {} seq {} type {}\n",
                e.name,
                e.seq,
                e.kind.letter()
            ));
        }
        s
    }

    /// The sequence number the next incremental file gets.
    pub fn next_incr_seq(&self) -> u64 {
        self.incrs.last().map_or(1, |e| e.seq + 1)
    }

    /// The sequence number the next base file gets.
    pub fn next_base_seq(&self) -> u64 {
        self.base.as_ref().map_or(1, |e| e.seq + 1)
    }
}

/// `<appendfilename>.<seq>.incr.aof`.
pub fn incr_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.incr.aof")
}

/// `<appendfilename>.<seq>.base.rdb` (RDB preamble) or `.base.aof`.
pub fn base_name(prefix: &str, seq: u64, rdb: bool) -> String {
    format!("{prefix}.{seq}.base.{}", if rdb { "rdb" } else { "aof" })
}

/// `<appendfilename>.manifest`.
pub fn manifest_name(prefix: &str) -> String {
    format!("{prefix}.manifest")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_redis_7_0_text() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.render(), text);
        assert_eq!(m.next_incr_seq(), 2);
        assert_eq!(m.next_base_seq(), 2);
    }

    #[test]
    fn refuses_bad_lines_by_number() {
        let e = Manifest::parse("file a seq 1 type b\nfile b seq x type i\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let e = Manifest::parse("file ../etc/passwd seq 1 type b\n").unwrap_err();
        assert!(e.contains("leaves"), "{e}");
    }
}
