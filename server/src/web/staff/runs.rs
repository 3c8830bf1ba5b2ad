//! Sorting more items than are worth holding at once: items are sorted in
//! runs of a bounded length, each full run written to a temporary file,
//! and the runs merged as the items are read back. An export of every
//! candidature sorts a hundred thousand of them; held at once while they
//! sorted, they raised the server's peak by their 15 MB whenever the
//! store's cache was full (docs/performance.md, twenty-seventh round).

use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Sorts the items pushed with `compare`, holding at most `run_length` of
/// them (and one per run when they are read back).
pub struct RunSorter<T, F> {
    run: Vec<T>,
    run_length: usize,
    compare: F,
    /// The runs written so far, each sorted.
    written: Vec<BufReader<File>>,
}

impl<T, F> RunSorter<T, F>
where
    T: Serialize + DeserializeOwned,
    F: Fn(&T, &T) -> Ordering,
{
    /// A sorter holding at most `run_length` items (at least one).
    pub fn new(run_length: usize, compare: F) -> Self {
        RunSorter {
            run: Vec::new(),
            run_length: run_length.max(1),
            compare,
            written: Vec::new(),
        }
    }

    /// Adds `item`; a full run is sorted and written.
    pub fn push(&mut self, item: T) -> std::io::Result<()> {
        self.run.push(item);
        if self.run.len() >= self.run_length {
            self.write_run()?;
        }
        Ok(())
    }

    /// Writes the run held, sorted, to an unnamed temporary file (gone when
    /// closed, or if the server stops), one JSON line per item.
    fn write_run(&mut self) -> std::io::Result<()> {
        let compare = &self.compare;
        self.run.sort_unstable_by(|a, b| compare(a, b));
        let mut file = BufWriter::new(tempfile::tempfile()?);
        for item in self.run.drain(..) {
            serde_json::to_writer(&mut file, &item)?;
            file.write_all(b"\n")?;
        }
        let mut file = file.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        self.written.push(BufReader::new(file));
        Ok(())
    }

    /// Every item pushed, in order. The last run stays in memory; with no
    /// run written, nothing touches the disk.
    pub fn finish(mut self) -> std::io::Result<Sorted<T, F>> {
        let compare = &self.compare;
        self.run.sort_unstable_by(|a, b| compare(a, b));
        self.run.shrink_to_fit();
        let mut sources = vec![Source::Held(self.run.into_iter())];
        sources.extend(self.written.into_iter().map(|file| Source::Written {
            file,
            line: String::new(),
        }));
        let mut heads = Vec::with_capacity(sources.len());
        for source in &mut sources {
            heads.push(source.next()?);
        }
        Ok(Sorted {
            sources,
            heads,
            compare: self.compare,
        })
    }
}

/// Where a run's items come from when they are read back.
enum Source<T> {
    Held(std::vec::IntoIter<T>),
    Written { file: BufReader<File>, line: String },
}

impl<T: DeserializeOwned> Source<T> {
    /// The run's next item, or `None` at its end.
    fn next(&mut self) -> std::io::Result<Option<T>> {
        match self {
            Source::Held(items) => Ok(items.next()),
            Source::Written { file, line } => {
                line.clear();
                if file.read_line(line)? == 0 {
                    return Ok(None);
                }
                Ok(Some(serde_json::from_str(line)?))
            }
        }
    }
}

/// The items of a [`RunSorter`], in order: the least of the runs' first
/// items each time (a handful of runs: a look at each beats a heap).
pub struct Sorted<T, F> {
    sources: Vec<Source<T>>,
    /// Each source's next item.
    heads: Vec<Option<T>>,
    compare: F,
}

impl<T, F> Iterator for Sorted<T, F>
where
    T: DeserializeOwned,
    F: Fn(&T, &T) -> Ordering,
{
    type Item = std::io::Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut least: Option<usize> = None;
        for (index, head) in self.heads.iter().enumerate() {
            let Some(item) = head else { continue };
            let lower = match least.and_then(|at| self.heads[at].as_ref()) {
                Some(current) => (self.compare)(item, current) == Ordering::Less,
                None => true,
            };
            if lower {
                least = Some(index);
            }
        }
        let at = least?;
        let refill = match self.sources[at].next() {
            Ok(next) => next,
            Err(error) => {
                // Nothing more is read: the order past here is unknown.
                self.heads.iter_mut().for_each(|head| *head = None);
                return Some(Err(error));
            }
        };
        std::mem::replace(&mut self.heads[at], refill).map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Numbers in an order unlike their own, with ties on the first part.
    fn items(count: usize) -> Vec<(u32, String)> {
        (0..count)
            .map(|n| (((n * 7919) % 23) as u32, format!("item {n}")))
            .collect()
    }

    fn sorted_by_runs(items: Vec<(u32, String)>, run_length: usize) -> Vec<(u32, String)> {
        let descending = |a: &(u32, String), b: &(u32, String)| b.cmp(a);
        let mut sorter = RunSorter::new(run_length, descending);
        for item in items {
            sorter.push(item).expect("pushed");
        }
        let sorted = sorter.finish().expect("sorted");
        sorted.collect::<std::io::Result<_>>().expect("read back")
    }

    #[test]
    fn runs_merged_give_the_order_of_one_sort() {
        for count in [0, 1, 2, 9, 10, 11, 99, 100, 101, 1000] {
            let mut expected = items(count);
            expected.sort_by(|a, b| b.cmp(a));
            for run_length in [1, 3, 10, 100, 5000] {
                let sorted = sorted_by_runs(items(count), run_length);
                assert_eq!(sorted, expected, "{count} items in runs of {run_length}");
            }
        }
    }

    #[test]
    fn only_a_run_is_held_the_others_are_written() {
        let mut sorter = RunSorter::new(10, |a: &u32, b: &u32| a.cmp(b));
        for n in (0..35).rev() {
            sorter.push(n).expect("pushed");
            assert!(sorter.run.len() < 10);
        }
        assert_eq!(sorter.written.len(), 3);
        let sorted = sorter.finish().expect("sorted");
        assert_eq!(sorted.sources.len(), 4);
        let read: Vec<u32> = sorted.map(|n| n.expect("read")).collect();
        assert_eq!(read, (0..35).collect::<Vec<_>>());
    }

    #[test]
    fn an_unreadable_run_ends_the_items_with_its_error() {
        let mut sorter = RunSorter::new(2, |a: &u32, b: &u32| a.cmp(b));
        for n in [5, 1, 4, 2] {
            sorter.push(n).expect("pushed");
        }
        let mut sorted = sorter.finish().expect("sorted");
        assert_eq!(sorted.next().map(|n| n.ok()), Some(Some(1)));
        // The first written run's next line is replaced by one that is
        // not an item.
        let Source::Written { file, .. } = &mut sorted.sources[1] else {
            panic!("a written run");
        };
        let mut broken = tempfile::tempfile().expect("a file");
        broken.write_all(b"not an item\n").expect("written");
        broken.rewind().expect("rewound");
        *file = BufReader::new(broken);
        // Its head (5, read already) waits behind the other run's 2 and 4.
        let rest: Vec<Option<u32>> = sorted.by_ref().map(|n| n.ok()).collect();
        assert_eq!(rest, [Some(2), Some(4), None]);
        assert!(sorted.next().is_none());
    }
}
