//! The cells geo indexes key their entries by, and the cell ranges a query reads.
//!
//! A 2dsphere index keys a point by its leaf S2 cell and any other shape by a
//! few cells covering its bounding rectangle (the `s2` crate's cell ids and
//! region coverer). A query region is covered the same way; an entry may hold a
//! match when its cell lies inside a covering cell (a range of leaf ids) or is an
//! ancestor of one (a single id). A 2d index keys a legacy point by its cell on a
//! square grid of `2^bits` cells a side over `[min, max)`, numbered along the
//! Z-order curve (MongoDB's geohash), so a grid cell at any coarser level is also a
//! range of ids.
//!
//! Cell ids are unsigned; keys hold them as Int64 shifted by 2^63, which keeps
//! their order.

use s2::cap::Cap;
use s2::cellid::CellID;
use s2::cellunion::CellUnion;
use s2::point::Point;
use s2::rect::Rect;
use s2::rect_bounder::RectBounder;
use s2::region::RegionCoverer;

use super::flat::Flat;

/// The deepest S2 cell level.
const LEAF_LEVEL: u64 = 30;

/// The most cells covering one indexed shape or one query region.
const MAX_CELLS: usize = 16;

/// An inclusive range of cell ids.
pub type CellRange = (u64, u64);

/// The key value of a cell id.
pub fn key(id: u64) -> i64 {
    (id ^ (1 << 63)) as i64
}

/// The cell id a key value holds.
pub fn from_key(key: i64) -> u64 {
    (key as u64) ^ (1 << 63)
}

/// A point's leaf cell.
pub fn leaf_cell(p: &Point) -> u64 {
    CellID::from(p).0
}

/// The centre of a cell, for pruning by distance before a document is read.
pub fn cell_center(id: u64) -> Point {
    Point::from(CellID(id))
}

/// The bounding rectangle of the chains of geodesic edges through `chains`.
pub fn rect_bound<'p>(chains: impl IntoIterator<Item = &'p [Point]>, closed: bool) -> Rect {
    let mut bound = Rect::empty();
    for chain in chains {
        let mut bounder = RectBounder::new();
        for p in chain {
            bounder.add_point(p);
        }
        if closed {
            if let Some(first) = chain.first() {
                bounder.add_point(first);
            }
        }
        bound = bound.union(&bounder.get_bound());
    }
    bound
}

fn coverer() -> RegionCoverer {
    RegionCoverer { min_level: 0, max_level: LEAF_LEVEL as u8, level_mod: 1, max_cells: MAX_CELLS }
}

/// The cells an index stores for a shape bounded by `rect`.
pub fn rect_cells(rect: &Rect) -> Vec<u64> {
    coverer().covering(rect).0.into_iter().map(|c| c.0).collect()
}

/// The ranges of cell ids whose entries may meet the region `covering` covers:
/// each covering cell's descendants, and each of its ancestors.
fn ranges_of(covering: CellUnion) -> Vec<CellRange> {
    let mut ranges: Vec<CellRange> = Vec::new();
    for cell in &covering.0 {
        ranges.push((cell.range_min().0, cell.range_max().0));
        for level in 0..cell.level() {
            let parent = cell.parent(level).0;
            ranges.push((parent, parent));
        }
    }
    merge(ranges)
}

/// The ranges for a region bounded by `rect`.
pub fn rect_ranges(rect: &Rect) -> Vec<CellRange> {
    ranges_of(coverer().covering(rect))
}

/// The ranges for the cap of `radius` radians around `center`.
pub fn cap_ranges(center: &Point, radius: f64) -> Vec<CellRange> {
    if radius >= std::f64::consts::PI {
        return vec![(0, u64::MAX)];
    }
    let cap = Cap::from_center_angle(center, &s2::s1::Angle::from(s2::s1::Rad(radius)));
    ranges_of(coverer().covering(&cap))
}

/// Sorted, disjoint ranges covering the same ids.
fn merge(mut ranges: Vec<CellRange>) -> Vec<CellRange> {
    ranges.sort_unstable();
    let mut out: Vec<CellRange> = Vec::with_capacity(ranges.len());
    for (low, high) in ranges {
        match out.last_mut() {
            Some(last) if low <= last.1.saturating_add(1) => last.1 = last.1.max(high),
            _ => out.push((low, high)),
        }
    }
    out
}

/// A 2d index's grid: `2^bits` cells a side over `[min, max)` in each coordinate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub bits: u32,
    pub min: f64,
    pub max: f64,
}

impl Grid {
    /// The cell of one coordinate at the finest level.
    fn step(&self, v: f64) -> u64 {
        let cells = (1u64 << self.bits) as f64;
        let scaled = ((v - self.min) / (self.max - self.min) * cells).floor();
        scaled.clamp(0.0, cells - 1.0) as u64
    }

    /// A point's cell id: its coordinates' cells, bits interleaved (x first).
    pub fn cell(&self, p: &Flat) -> u64 {
        interleave(self.step(p.x), self.step(p.y)) << (64 - 2 * self.bits)
    }

    /// The ranges of cell ids of the points inside the box `[low, high]`: the grid
    /// cells meeting it, at the finest level where it spans a few cells a side.
    pub fn box_ranges(&self, low: &Flat, high: &Flat) -> Vec<CellRange> {
        let (x0, x1, y0, y1) = (self.step(low.x), self.step(high.x), self.step(low.y), self.step(high.y));
        let mut shift = 0;
        while shift < self.bits && ((x1 >> shift) - (x0 >> shift) > 3 || (y1 >> shift) - (y0 >> shift) > 3) {
            shift += 1;
        }
        let mut ranges = Vec::new();
        for x in (x0 >> shift)..=(x1 >> shift) {
            for y in (y0 >> shift)..=(y1 >> shift) {
                let width = 2 * shift + 64 - 2 * self.bits;
                let first = if width >= 64 { 0 } else { interleave(x, y) << width };
                let last = if width >= 64 { u64::MAX } else { first | ((1u64 << width) - 1) };
                ranges.push((first, last));
            }
        }
        merge(ranges)
    }
}

/// The bits of `x` and `y` interleaved, `x`'s in the higher place of each pair.
fn interleave(x: u64, y: u64) -> u64 {
    let spread = |mut v: u64| {
        v &= 0xffff_ffff;
        v = (v | (v << 16)) & 0x0000_ffff_0000_ffff;
        v = (v | (v << 8)) & 0x00ff_00ff_00ff_00ff;
        v = (v | (v << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
        v = (v | (v << 2)) & 0x3333_3333_3333_3333;
        (v | (v << 1)) & 0x5555_5555_5555_5555
    };
    (spread(x) << 1) | spread(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::geo::sphere::Spot;

    #[test]
    fn keys_keep_the_order_of_cell_ids() {
        assert!(key(1) < key(u64::MAX));
        assert!(key(1 << 63) > key((1 << 63) - 1));
        assert_eq!(from_key(key(12345)), 12345);
    }

    #[test]
    fn a_cap_covers_the_leaf_cells_of_its_points() {
        let center = Spot::new(-73.97, 40.77).point;
        let near = Spot::new(-73.98, 40.78).point;
        let ranges = cap_ranges(&center, 0.001);
        let cell = leaf_cell(&near);
        assert!(ranges.iter().any(|(low, high)| (*low..=*high).contains(&cell)));
        let far = leaf_cell(&Spot::new(10.0, 10.0).point);
        assert!(!ranges.iter().any(|(low, high)| (*low..=*high).contains(&far)));
    }

    #[test]
    fn a_grid_box_covers_its_points() {
        let grid = Grid { bits: 26, min: -180.0, max: 180.0 };
        let (low, high) = (Flat { x: 1.0, y: 1.0 }, Flat { x: 2.0, y: 3.0 });
        let ranges = grid.box_ranges(&low, &high);
        for p in [Flat { x: 1.0, y: 1.0 }, Flat { x: 2.0, y: 3.0 }, Flat { x: 1.5, y: 2.0 }] {
            let cell = grid.cell(&p);
            assert!(ranges.iter().any(|(l, h)| (*l..=*h).contains(&cell)), "{p:?}");
        }
        assert!(ranges.len() <= 16);
    }
}
