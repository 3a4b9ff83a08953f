//! The `$geoNear` stage: documents nearest a point first, each with its distance
//! (and the location it was measured to). It runs as the pipeline's source, since
//! it reads a geo index nearest first (`exec::nearest`); this holds its options
//! and what it adds to each document.

use bson::{doc, Bson, Document};

use super::super::expr::Variables;
use super::super::path::set_path;
use crate::error::{Error, ErrorCode, Result};
use crate::query::geo::looks_like_geojson;
use crate::query::Filter;
use crate::value::number::as_f64;
use crate::value::type_name;

/// `maxDistance` or `minDistance`: a number, not negative.
fn distance(name: &str, value: &Bson) -> Result<f64> {
    let n = as_f64(value)
        .ok_or_else(|| Error::type_mismatch(format!("$geoNear requires ${name} to evaluate to a number")))?;
    if n < 0.0 {
        return Err(Error::bad_value(format!("{name} must be nonnegative")));
    }
    Ok(n)
}

/// A parsed `$geoNear`.
#[derive(Debug, Clone)]
pub struct GeoNear {
    near: Bson,
    distance_field: String,
    spherical: bool,
    max_distance: Option<f64>,
    min_distance: Option<f64>,
    query: Document,
    distance_multiplier: Option<f64>,
    include_locs: Option<String>,
    /// The geo field to read, when the collection has several.
    pub key: Option<String>,
}

impl GeoNear {
    /// Parses the stage's options with MongoDB 8.0's checks and codes.
    pub fn parse(argument: &Bson) -> Result<GeoNear> {
        let Bson::Document(spec) = argument else {
            return Err(Error::command(
                ErrorCode::Location10065,
                format!("invalid parameter: expected an object ($geoNear), got {}", type_name(Some(argument))),
            ));
        };
        for (removed, code, message) in [
            (
                "limit",
                ErrorCode::Location50858,
                "$geoNear no longer supports the 'limit' parameter. Use a $limit stage instead.",
            ),
            (
                "num",
                ErrorCode::Location50857,
                "$geoNear no longer supports the 'num' parameter. Use a $limit stage instead.",
            ),
            ("start", ErrorCode::Location50856, "$geoNear no longer supports the 'start' argument."),
        ] {
            if spec.contains_key(removed) {
                return Err(Error::command(code, message));
            }
        }
        let near = spec
            .get("near")
            .cloned()
            .ok_or_else(|| Error::command(ErrorCode::Location5860400, "$geoNear requires a 'near' argument"))?;
        let mut stage = GeoNear {
            near,
            distance_field: String::new(),
            spherical: false,
            max_distance: None,
            min_distance: None,
            query: Document::new(),
            distance_multiplier: None,
            include_locs: None,
            key: None,
        };
        for (name, value) in spec {
            match name.as_str() {
                "near" | "uniqueDocs" => {}
                "distanceField" => match value {
                    Bson::String(field) => stage.distance_field = field.clone(),
                    _ => {
                        return Err(Error::command(
                            ErrorCode::Location16606,
                            "$geoNear requires that the 'distanceField' option is a String",
                        ))
                    }
                },
                "spherical" => stage.spherical = crate::value::truthy(Some(value)),
                "maxDistance" => stage.max_distance = Some(distance("maxDistance", value)?),
                "minDistance" => stage.min_distance = Some(distance("minDistance", value)?),
                "query" => match value {
                    Bson::Document(query) => stage.query = query.clone(),
                    _ => return Err(Error::type_mismatch("query must be an object")),
                },
                "distanceMultiplier" => {
                    let n = as_f64(value).ok_or_else(|| Error::type_mismatch("distanceMultiplier must be a number"))?;
                    if n < 0.0 {
                        return Err(Error::bad_value("distanceMultiplier must be nonnegative"));
                    }
                    stage.distance_multiplier = Some(n);
                }
                "includeLocs" => match value {
                    Bson::String(field) => stage.include_locs = Some(field.clone()),
                    _ => {
                        return Err(Error::command(
                            ErrorCode::Location16607,
                            "$geoNear requires that 'includeLocs' option is a String",
                        ))
                    }
                },
                "key" => match value {
                    Bson::String(key) if !key.is_empty() => stage.key = Some(key.clone()),
                    Bson::String(_) => {
                        return Err(Error::bad_value("$geoNear parameter 'key' cannot be the empty string"))
                    }
                    other => {
                        return Err(Error::type_mismatch(format!(
                            "$geoNear parameter 'key' must be of type string but found type: {}",
                            type_name(Some(other))
                        )))
                    }
                },
                _ => return Err(Error::bad_value(format!("Unknown argument to $geoNear: {name}"))),
            }
        }
        if stage.distance_field.is_empty() {
            return Err(Error::command(
                ErrorCode::Location16606,
                "$geoNear requires a 'distanceField' option as a String",
            ));
        }
        if !matches!(stage.near, Bson::Array(_) | Bson::Document(_)) {
            return Err(Error::command(
                ErrorCode::Location5860401,
                "$geoNear requires near argument to be a GeoJSON object or a legacy point(array)",
            ));
        }
        Filter::parse(&stage.query, &Variables::none())?;
        Ok(stage)
    }

    /// Whether the point is GeoJSON (distances in metres on a 2dsphere index).
    pub fn geojson(&self) -> bool {
        matches!(&self.near, Bson::Document(doc) if looks_like_geojson(doc))
    }

    /// The filter the stage reads with: its `query` and a `$near` (or, when
    /// spherical, `$nearSphere`) on `path`.
    pub fn filter(&self, path: &str) -> Result<Filter> {
        let operator = if self.spherical { "$nearSphere" } else { "$near" };
        // The distances go inside a GeoJSON point's operand, beside a legacy one.
        let mut distances = Document::new();
        if let Some(max) = self.max_distance {
            distances.insert("$maxDistance", max);
        }
        if let Some(min) = self.min_distance {
            distances.insert("$minDistance", min);
        }
        let near = match self.geojson() {
            true => {
                let mut operand = doc! { "$geometry": self.near.clone() };
                operand.extend(distances);
                doc! { operator: operand }
            }
            false => {
                let mut near = doc! { operator: self.near.clone() };
                near.extend(distances);
                near
            }
        };
        let mut filter = doc! { path: near };
        if !self.query.is_empty() {
            filter.insert("$and", vec![Bson::Document(self.query.clone())]);
        }
        Filter::parse(&filter, &Variables::none())
    }

    /// `doc` with its distance (times the multiplier) and, when asked, the
    /// location it was measured to.
    pub fn decorate(&self, mut doc: Document, distance: f64, location: Option<Bson>) -> Document {
        let distance = distance * self.distance_multiplier.unwrap_or(1.0);
        set_path(&mut doc, &self.distance_field, Bson::Double(distance));
        if let (Some(field), Some(location)) = (&self.include_locs, location) {
            set_path(&mut doc, field, location);
        }
        doc
    }
}
