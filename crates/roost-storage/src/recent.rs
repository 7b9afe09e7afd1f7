//! The newest log entries of one group, kept in memory as they are appended. openraft reads
//! them back at once (the leader to replicate them, every node to apply them), and serving
//! those reads from here saves a RocksDB scan and a decode per entry on the commit path
//! (BENCHMARKS.md section 10: about 0.1 ms off a sequential publish). Bounded; a range not
//! wholly here is read from RocksDB.

use std::collections::VecDeque;
use std::ops::Bound;

use roost_types::Entry;

/// Most bytes (encoded) kept per group.
const MAX_BYTES: usize = 4 << 20;
/// Most entries kept per group.
const MAX_ENTRIES: usize = 4096;

/// Contiguous entries, oldest first, ending with the newest appended.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    /// The entries with their encoded sizes; indexes increase by one.
    entries: VecDeque<(Entry, usize)>,
    /// The sum of their encoded sizes.
    bytes: usize,
}

impl Recent {
    /// Records entries just written to the log (in index order), with their encoded sizes.
    pub(crate) fn append(&mut self, entries: Vec<(Entry, usize)>) {
        for (e, size) in entries {
            let follows = self
                .entries
                .back()
                .is_none_or(|(last, _)| last.log_id.index + 1 == e.log_id.index);
            if !follows {
                self.entries.clear();
                self.bytes = 0;
            }
            self.bytes += size;
            self.entries.push_back((e, size));
        }
        while self.entries.len() > MAX_ENTRIES || self.bytes > MAX_BYTES {
            match self.entries.pop_front() {
                Some((_, size)) => self.bytes -= size,
                None => break,
            }
        }
    }

    /// Forgets entries from `index` on (the log was truncated there).
    pub(crate) fn truncate(&mut self, index: u64) {
        while self
            .entries
            .back()
            .is_some_and(|(e, _)| e.log_id.index >= index)
        {
            if let Some((_, size)) = self.entries.pop_back() {
                self.bytes -= size;
            }
        }
    }

    /// Forgets entries up to and including `index` (purged from the log).
    pub(crate) fn purge(&mut self, index: u64) {
        while self
            .entries
            .front()
            .is_some_and(|(e, _)| e.log_id.index <= index)
        {
            if let Some((_, size)) = self.entries.pop_front() {
                self.bytes -= size;
            }
        }
    }

    /// The entries from `start` to `end` if every one of them is here (the newest entry here
    /// is the log's newest, so an unbounded end means "up to it").
    pub(crate) fn get(&self, start: u64, end: Bound<u64>) -> Option<Vec<Entry>> {
        let first = self.entries.front()?.0.log_id.index;
        let last = self.entries.back()?.0.log_id.index;
        let end = match end {
            Bound::Included(e) => e,
            Bound::Excluded(e) => e.checked_sub(1)?,
            Bound::Unbounded => last,
        };
        if start < first || end > last || start > end {
            return None;
        }
        let (from, to) = ((start - first) as usize, (end - first) as usize);
        Some(
            self.entries
                .range(from..=to)
                .map(|(e, _)| e.clone())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, EntryPayload, LogId};

    fn entry(index: u64) -> (Entry, usize) {
        let e = Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Blank,
        };
        (e, 100)
    }

    fn indexes(v: Option<Vec<Entry>>) -> Option<Vec<u64>> {
        v.map(|es| es.iter().map(|e| e.log_id.index).collect())
    }

    #[test]
    fn serves_only_ranges_it_holds_whole() {
        let mut r = Recent::default();
        r.append((5..=9).map(entry).collect());
        assert_eq!(indexes(r.get(6, Bound::Included(8))), Some(vec![6, 7, 8]));
        assert_eq!(indexes(r.get(7, Bound::Unbounded)), Some(vec![7, 8, 9]));
        assert_eq!(indexes(r.get(4, Bound::Included(6))), None, "4 is not here");
        assert_eq!(
            indexes(r.get(8, Bound::Included(10))),
            None,
            "10 is not here"
        );
        r.truncate(8);
        assert_eq!(indexes(r.get(5, Bound::Unbounded)), Some(vec![5, 6, 7]));
        // A gap (entries appended after a truncation elsewhere) starts over.
        r.append(vec![entry(20)]);
        assert_eq!(indexes(r.get(5, Bound::Included(7))), None);
        assert_eq!(indexes(r.get(20, Bound::Excluded(21))), Some(vec![20]));
        r.append((21..=30).map(entry).collect());
        r.purge(25);
        assert_eq!(indexes(r.get(25, Bound::Included(26))), None);
        assert_eq!(indexes(r.get(26, Bound::Included(27))), Some(vec![26, 27]));
    }

    #[test]
    fn keeps_at_most_its_bound() {
        let mut r = Recent::default();
        r.append((1..=(MAX_ENTRIES as u64 + 10)).map(entry).collect());
        assert_eq!(r.entries.len(), MAX_ENTRIES);
        assert_eq!(r.entries.front().map(|e| e.0.log_id.index), Some(11));
        // Big entries: the byte bound holds first.
        let mut r = Recent::default();
        let big = |i| (entry(i).0, MAX_BYTES / 2);
        r.append((1..=5).map(big).collect());
        assert_eq!(r.entries.len(), 2);
        assert_eq!(r.bytes, MAX_BYTES);
    }
}
