//! The collection values: hash tables for hashes and sets (with Redis's SCAN guarantees) and the
//! sorted set.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::LazyLock;

use rand::Rng;

use super::{Blob, Dict};

static HASHER: LazyLock<ahash::RandomState> = LazyLock::new(ahash::RandomState::new);

fn hash(k: &[u8]) -> u64 {
    HASHER.hash_one(k)
}

/// A hash table of members (hash fields, set members, sorted-set members) built on the keyspace's
/// [`Dict`], so HSCAN/SSCAN/ZSCAN return every element present for the whole scan, across resizes.
#[derive(Debug)]
pub struct Table<V>(Dict<V>);

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table(Dict::default())
    }
}

impl<V: Clone> Clone for Table<V> {
    fn clone(&self) -> Self {
        let mut t = Table::default();
        for (k, v) in self.iter() {
            t.insert(k, v.clone());
        }
        t
    }
}

impl<V: PartialEq> PartialEq for Table<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<V> Table<V> {
    /// An empty table.
    pub fn new() -> Self {
        Table::default()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of a member.
    pub fn get(&self, k: &[u8]) -> Option<&V> {
        self.0.get(hash(k), k).map(|n| &n.value)
    }

    /// The value of a member, for update.
    pub fn get_mut(&mut self, k: &[u8]) -> Option<&mut V> {
        self.0.get_mut(hash(k), k).map(|n| &mut n.value)
    }

    /// Whether `k` is a member.
    pub fn contains(&self, k: &[u8]) -> bool {
        self.get(k).is_some()
    }

    /// Insert or replace; returns the previous value.
    pub fn insert(&mut self, k: &[u8], v: V) -> Option<V> {
        self.0.insert(hash(k), k, v, 0, 0, hash)
    }

    /// Remove a member; returns its value.
    pub fn remove(&mut self, k: &[u8]) -> Option<V> {
        self.0.remove(hash(k), k, hash).map(|n| n.value)
    }

    /// Every member and its value.
    pub fn iter(&self) -> impl Iterator<Item = (&Blob, &V)> {
        self.0.iter().map(|n| (&n.key, &n.value))
    }

    /// One SCAN step over the bucket at `cursor`; returns the next cursor (0 at the end).
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&Blob, &V)) -> u64 {
        self.0.scan(cursor, |n| visit(&n.key, &n.value))
    }

    /// Number of buckets (for SCAN's COUNT-driven loop).
    pub fn buckets(&self) -> usize {
        self.0.buckets()
    }

    /// A uniformly random member. Like Redis's `dictGetRandomKey` it draws a random bucket, but then
    /// a random slot among [`FAIR_SLOTS`] (or the chain's length, if longer) and draws again when the
    /// slot is empty: every member has the same chance whatever the length of its chain (Redis's
    /// chained pick favours members alone in their bucket; its listpacks are uniform).
    pub fn random_key(&self) -> Option<Blob> {
        if self.is_empty() {
            return None;
        }
        let buckets = self.0.buckets();
        let mut rng = rand::rng();
        loop {
            let bucket = rng.random_range(0..buckets);
            let len = self.0.chain(bucket).count();
            if len == 0 {
                continue;
            }
            let slot = rng.random_range(0..len.max(FAIR_SLOTS));
            if let Some(n) = self.0.chain(bucket).nth(slot) {
                return Some(n.key.clone());
            }
        }
    }

    /// `count` members drawn uniformly and independently (repetitions allowed: SRANDMEMBER,
    /// HRANDFIELD and ZRANDMEMBER with a negative count). Many draws from a small table index one
    /// list of the members; few draws use [`random_key`](Self::random_key).
    pub fn random_repeated(&self, count: usize) -> Vec<Blob> {
        let len = self.len();
        if len == 0 {
            return Vec::new();
        }
        let mut rng = rand::rng();
        if count.saturating_mul(4) >= len {
            let all: Vec<&Blob> = self.iter().map(|(k, _)| k).collect();
            (0..count)
                .map(|_| all[rng.random_range(0..len)].clone())
                .collect()
        } else {
            (0..count).filter_map(|_| self.random_key()).collect()
        }
    }

    /// `count` distinct random members (all of them when `count >= len`), in random order.
    pub fn random_distinct(&self, count: usize) -> Vec<Blob> {
        use rand::seq::SliceRandom;
        let len = self.len();
        let mut rng = rand::rng();
        if count.saturating_mul(3) >= len {
            let mut all: Vec<Blob> = self.iter().map(|(k, _)| k.clone()).collect();
            all.shuffle(&mut rng);
            all.truncate(count);
            return all;
        }
        let mut picked: ahash::HashSet<Blob> = ahash::HashSet::default();
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let Some(k) = self.random_key() else { break };
            if picked.insert(k.clone()) {
                out.push(k);
            }
        }
        out
    }
}

/// Slots per bucket [`Table::random_key`] draws from: chains are rarely longer at the tables' load
/// factor, so a draw rarely needs more than a few tries.
pub const FAIR_SLOTS: usize = 4;

/// A score with a total order (NaN is never stored; `-0` equals `0` as in Redis).
#[derive(Debug, Clone, Copy)]
pub struct Score(pub f64);

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal)
    }
}

/// One end of a score range (`(1.5` is exclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreBound {
    /// The score.
    pub value: f64,
    /// Whether the bound itself is excluded.
    pub exclusive: bool,
}

/// One end of a lexicographic range: `-`, `+`, `[member` or `(member`.
#[derive(Debug, Clone, PartialEq)]
pub enum LexBound {
    /// `-`.
    Min,
    /// `+`.
    Max,
    /// `[member`.
    Incl(Vec<u8>),
    /// `(member`.
    Excl(Vec<u8>),
}

impl LexBound {
    /// Whether `m` is at or above this lower bound.
    pub fn above_min(&self, m: &[u8]) -> bool {
        match self {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(b) => m >= b.as_slice(),
            LexBound::Excl(b) => m > b.as_slice(),
        }
    }

    /// Whether `m` is at or below this upper bound.
    pub fn below_max(&self, m: &[u8]) -> bool {
        match self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(b) => m <= b.as_slice(),
            LexBound::Excl(b) => m < b.as_slice(),
        }
    }
}

/// A sorted set: a member → score table plus a `BTreeSet` ordered by (score, member).
///
/// Score ranges are O(log n + m). Rank lookups and rank ranges walk the tree from one end, which is
/// O(rank) rather than Redis's O(log n) skiplist spans; an order-statistic tree would fix that.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZSet {
    scores: Table<f64>,
    tree: BTreeSet<(Score, Blob)>,
}

impl ZSet {
    /// An empty sorted set.
    pub fn new() -> Self {
        ZSet::default()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The score of a member.
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.scores.get(m).copied()
    }

    /// The member → score table (for ZSCAN and random picks).
    pub fn table(&self) -> &Table<f64> {
        &self.scores
    }

    /// Set the score of a member; returns its previous score.
    pub fn insert(&mut self, m: &[u8], score: f64) -> Option<f64> {
        // Redis replies `0` for a score set to `-0`.
        let score = score + 0.0;
        let old = self.scores.insert(m, score);
        let blob = Blob::from_slice(m);
        if let Some(o) = old {
            self.tree.remove(&(Score(o), blob.clone()));
        }
        self.tree.insert((Score(score), blob));
        old
    }

    /// Remove a member; returns its score.
    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let old = self.scores.remove(m)?;
        self.tree.remove(&(Score(old), Blob::from_slice(m)));
        Some(old)
    }

    /// Remove and return the member with the lowest (or, with `max`, highest) score.
    pub fn pop(&mut self, max: bool) -> Option<(Blob, f64)> {
        let (s, m) = if max {
            self.tree.pop_last()?
        } else {
            self.tree.pop_first()?
        };
        self.scores.remove(&m);
        Some((m, s.0))
    }

    /// The 0-based rank of a member (O(rank)).
    pub fn rank(&self, m: &[u8], rev: bool) -> Option<usize> {
        let s = self.score(m)?;
        let below = self.tree.range(..(Score(s), Blob::from_slice(m))).count();
        Some(if rev { self.len() - 1 - below } else { below })
    }

    /// Members in (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Blob, f64)> {
        self.tree.iter().map(|(s, m)| (m, s.0))
    }

    /// Members with ranks `start..=end` (already clamped to the set), in ascending or descending
    /// order.
    pub fn range_by_rank(&self, start: usize, end: usize, rev: bool) -> Vec<(Blob, f64)> {
        if start > end || start >= self.len() {
            return Vec::new();
        }
        let n = end - start + 1;
        let pick = |(s, m): &(Score, Blob)| (m.clone(), s.0);
        if rev {
            self.tree
                .iter()
                .rev()
                .skip(start)
                .take(n)
                .map(pick)
                .collect()
        } else {
            self.tree.iter().skip(start).take(n).map(pick).collect()
        }
    }

    /// Members whose score lies within `min..max`, ascending (or descending with `rev`).
    pub fn range_by_score(
        &self,
        min: ScoreBound,
        max: ScoreBound,
    ) -> impl DoubleEndedIterator<Item = (&Blob, f64)> {
        let lo_score = if min.exclusive {
            min.value.next_up()
        } else {
            min.value
        };
        let hi_score = if max.exclusive {
            max.value
        } else {
            max.value.next_up()
        };
        let lower = (Score(lo_score), Blob::new());
        let upper = if !max.exclusive && max.value == f64::INFINITY {
            Bound::Unbounded
        } else {
            Bound::Excluded((Score(hi_score), Blob::new()))
        };
        // BTreeSet::range panics on inverted bounds: never build one.
        let empty = lo_score.is_nan()
            || hi_score.is_nan()
            || (min.exclusive && min.value == f64::INFINITY)
            || matches!(&upper, Bound::Excluded(b) if lower >= *b);
        let range = if empty {
            None
        } else {
            Some(self.tree.range((Bound::Included(lower), upper)))
        };
        range.into_iter().flatten().map(|(s, m)| (m, s.0))
    }

    /// Members within a lexicographic range (meaningful when all scores are equal), ascending.
    pub fn range_by_lex<'a>(
        &'a self,
        min: &'a LexBound,
        max: &'a LexBound,
    ) -> impl DoubleEndedIterator<Item = (&'a Blob, f64)> + 'a {
        self.tree
            .iter()
            .filter(move |(_, m)| min.above_min(m) && max.below_max(m))
            .map(|(s, m)| (m, s.0))
    }
}
