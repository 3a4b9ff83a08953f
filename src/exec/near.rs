//! Reading nearest first, for `$near`, `$nearSphere` and `$geoNear`.
//!
//! The search reads the geo index ring by widening ring: the cells within the
//! current radius of the query's point are read, each document they hold is read
//! once and, when it matches, queued with its distance; every queued document no
//! farther than the radius is then final (a document not yet read has no cell
//! within the radius, so it is farther) and is handed on nearest first. The radius
//! doubles until enough documents are handed on, the query's maximum distance is
//! reached, or the ring holds the whole index. Only the `_id`s and distances of the
//! queued documents are held: a caller reads the documents it is handed again.

use std::collections::HashSet;

use super::Examined;
use crate::error::Result;
use crate::operations::Interrupt;
use crate::query::plan::NearScan;
use crate::query::Filter;
use crate::store::{Collection, View};

/// Calls `visit` with the distance from the query's point and the encoded `_id` of
/// each document matching `filter`, nearest first, until it returns `false` or
/// `wanted` documents were handed on.
pub fn nearest(
    view: &View,
    collection: &Collection,
    scan: &NearScan,
    filter: &Filter,
    interrupt: &Interrupt<'_>,
    wanted: Option<usize>,
    mut visit: impl FnMut(f64, &[u8]) -> Result<bool>,
) -> Result<Examined> {
    let mut examined = Examined::default();
    let mut read: HashSet<Vec<u8>> = HashSet::new();
    // Matches read but not yet handed on, farthest first.
    let mut queued: Vec<(f64, Vec<u8>)> = Vec::new();
    let max = scan.max_radius();
    let mut radius = scan.first_radius().min(max);
    loop {
        let last = radius >= max;
        for (lower, upper) in scan.ranges(radius) {
            view.index_scan(scan.index.id, &lower, &upper, false, |_, id| {
                examined.keys += 1;
                if read.contains(id) {
                    return Ok(true);
                }
                read.insert(id.to_vec());
                let Some(doc) = view.get_encoded(collection.id, id)? else { return Ok(true) };
                examined.docs += 1;
                if examined.docs.is_multiple_of(1024) {
                    interrupt.check()?;
                }
                if filter.matches(&doc) {
                    if let Some(distance) = scan.distance_of(&doc).filter(|d| scan.near.within(*d)) {
                        queued.push((distance, id.to_vec()));
                    }
                }
                Ok(true)
            })?;
        }
        queued.sort_by(|a, b| b.0.total_cmp(&a.0));
        while queued.last().is_some_and(|(distance, _)| last || *distance <= radius) {
            let (distance, id) = queued.pop().expect("a queued match");
            examined.returned += 1;
            if !visit(distance, &id)? || wanted.is_some_and(|w| examined.returned as usize >= w) {
                return Ok(examined);
            }
        }
        if last {
            return Ok(examined);
        }
        radius = (radius * 2.0).min(max);
    }
}
