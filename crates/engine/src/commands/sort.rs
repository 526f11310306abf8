//! SORT and SORT_RO (BY, LIMIT, GET, ASC/DESC, ALPHA, STORE), following Redis's `sortCommand`.

use std::cmp::Ordering;
use std::collections::VecDeque;

use super::{CmdResult, Ctx, Error, Handler, err, int_arg, is, parse_float};
use crate::notify::class;
use crate::store::{Blob, Locked, Value};

/// SORT commands.
pub static HANDLERS: &[(&str, Handler)] = &[("sort", sort), ("sort_ro", sort_ro)];

/// Look up a BY/GET pattern for one element: `*` is replaced by the element, `->field` reads a hash
/// field, `#` alone returns the element itself.
fn lookup_pattern(l: &mut Locked, pattern: &[u8], elem: &[u8]) -> Option<Blob> {
    if pattern == b"#" {
        return Some(Blob::from_slice(elem));
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let arrow = pattern[star..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|p| p + star)
        .filter(|&p| p + 2 < pattern.len());
    let key_pat = match arrow {
        Some(p) => &pattern[..p],
        None => pattern,
    };
    let mut key = Vec::with_capacity(key_pat.len() + elem.len());
    key.extend_from_slice(&key_pat[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&key_pat[star + 1..]);
    match (l.get(&key)?, arrow) {
        (Value::Str(s), None) => Some(s.clone()),
        (Value::Hash(h), Some(p)) => h.get(&pattern[p + 2..]).cloned(),
        _ => None,
    }
}

struct SortItem {
    elem: Blob,
    score: f64,
    cmp: Option<Blob>,
}

fn sort(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, args, true)
}

fn sort_generic(ctx: &mut Ctx, args: &[&[u8]], readonly: bool) -> CmdResult {
    let (mut desc, mut alpha) = (false, false);
    let (mut offset, mut count) = (0i64, -1i64);
    let mut by: Option<&[u8]> = None;
    let mut dontsort = false;
    let mut gets: Vec<&[u8]> = Vec::new();
    let mut store: Option<&[u8]> = None;
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if is(a, "ASC") {
            desc = false;
        } else if is(a, "DESC") {
            desc = true;
        } else if is(a, "ALPHA") {
            alpha = true;
        } else if is(a, "LIMIT") && left >= 2 {
            offset = int_arg(args[j + 1])?;
            count = int_arg(args[j + 2])?;
            j += 2;
        } else if is(a, "STORE") && left >= 1 && !readonly {
            store = Some(args[j + 1]);
            j += 1;
        } else if is(a, "BY") && left >= 1 {
            let p = args[j + 1];
            // A pattern without '*' means "don't sort".
            if !p.contains(&b'*') {
                dontsort = true;
            } else {
                by = Some(p);
            }
            j += 1;
        } else if is(a, "GET") && left >= 1 {
            gets.push(args[j + 1]);
            j += 1;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    let needs_all = by.is_some() || !gets.is_empty();
    let mut l = if needs_all {
        // Patterns can name any key: hold the whole database for an atomic sort.
        ctx.db().lock_all(ctx.now)
    } else {
        match store {
            Some(dst) => ctx.lock_keys(&[args[1], dst]),
            None => ctx.lock(args[1]),
        }
    };
    let key = args[1];
    let (mut elems, is_set, is_zset): (Vec<Blob>, bool, bool) = match l.get(key) {
        None => (Vec::new(), false, false),
        Some(Value::List(v)) => (v.iter().cloned().collect(), false, false),
        Some(Value::Set(s)) => (s.iter().map(|(m, _)| m.clone()).collect(), true, false),
        Some(Value::ZSet(z)) => (z.iter().map(|(m, _)| m.clone()).collect(), false, true),
        Some(_) => return Err(err::WRONGTYPE),
    };
    // Sets have no order: sort them anyway when storing, or for a script, so the result is
    // deterministic (Redis's sortCommandGeneric: for replication and scripting).
    if dontsort && is_set && (store.is_some() || ctx.engine.scripting.runs_for(ctx.client)) {
        dontsort = false;
        alpha = true;
        by = None;
    }
    // A sorted set with BY nosort and DESC is taken in reverse order, like Redis.
    if dontsort && is_zset && desc {
        elems.reverse();
    }
    let len = elems.len() as i64;
    let mut start = offset.max(0);
    let mut end = if count < 0 {
        len - 1
    } else {
        start.saturating_add(count) - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    let mut items: Vec<SortItem> = elems
        .into_iter()
        .map(|elem| SortItem {
            elem,
            score: 0.0,
            cmp: None,
        })
        .collect();
    if !dontsort {
        for it in items.iter_mut() {
            let byval = match by {
                Some(p) => lookup_pattern(&mut l, p, &it.elem),
                None => None,
            };
            if alpha {
                if by.is_some() {
                    it.cmp = byval;
                }
            } else {
                let src: Option<&[u8]> = if by.is_some() {
                    byval.as_deref()
                } else {
                    Some(&it.elem)
                };
                if let Some(src) = src {
                    it.score = parse_float(src).ok_or(Error::from(
                        "ERR One or more scores can't be converted into double",
                    ))?;
                }
            }
        }
        items.sort_by(|a, b| {
            let c = if !alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.elem.cmp(&b.elem))
            } else if by.is_some() {
                match (&a.cmp, &b.cmp) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) => x.cmp(y),
                }
            } else {
                a.elem.cmp(&b.elem)
            };
            if desc { c.reverse() } else { c }
        });
    }
    let selected: &[SortItem] = if start <= end && start >= 0 && !items.is_empty() {
        &items[start as usize..=(end as usize).min(items.len() - 1)]
    } else {
        &[]
    };
    let mut out: Vec<Option<Blob>> = Vec::new();
    for it in selected {
        if gets.is_empty() {
            out.push(Some(it.elem.clone()));
        } else {
            for g in &gets {
                out.push(lookup_pattern(&mut l, g, &it.elem));
            }
        }
    }
    if let Some(dst) = store {
        let n = out.len();
        if n == 0 {
            if l.remove(dst).is_some() {
                ctx.notify(class::GENERIC, "del", dst);
            }
        } else {
            let list: VecDeque<Blob> = out.into_iter().map(|v| v.unwrap_or_default()).collect();
            l.set(dst, Value::List(Box::new(list)), 0);
            ctx.notify(class::LIST, "sortstore", dst);
        }
        drop(l);
        ctx.out.int(n as i64);
        return Ok(());
    }
    drop(l);
    ctx.out.array(out.len());
    for v in &out {
        ctx.out.opt_bulk(v.as_deref());
    }
    Ok(())
}
