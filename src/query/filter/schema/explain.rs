//! Why a document fails a `$jsonSchema`, as MongoDB explains a validator's
//! rejection: the keywords not satisfied, in MongoDB's fixed order (strings and
//! numbers, arrays, encryption, documents, logic, then the type), each with how it
//! was specified, the reason and what it looked at.

use std::cmp::Ordering;

use bson::{doc, Bson, Document};

use super::{compare_numbers, is_multiple, values_equal, Additional, Dependency, Items, JsonSchema, Schema};
use crate::value::number::as_f64;

impl JsonSchema {
    /// The explanation of a document this schema rejects.
    pub fn explain(&self, doc: &Document) -> Document {
        let root = &self.root;
        let excluded =
            root.stated_types().is_some_and(|t| !t.types.contains(&bson::spec::ElementType::EmbeddedDocument));
        if excluded {
            return doc! {
                "operatorName": "$jsonSchema",
                "specifiedAs": {"$jsonSchema": root.spec.clone()},
                "reason": "expression always evaluates to false",
            };
        }
        let mut out = doc! {"operatorName": "$jsonSchema"};
        annotate(&mut out, &root.spec);
        let mut errors = root.document_errors(doc, None);
        errors.extend(root.logic_errors(|schema| schema.matches_root(doc), |schema| schema.root_errors(doc)));
        if let Some(values) = &root.enumeration {
            if !values.iter().any(|v| matches!(v, Bson::Document(d) if super::documents_equal(d, doc))) {
                errors.push(doc! {
                    "operatorName": "enum",
                    "specifiedAs": {"enum": values.clone()},
                    "reason": "value was not found in enum",
                    "consideredValue": doc.clone(),
                });
            }
        }
        out.insert("schemaRulesNotSatisfied", to_bson(errors));
        out
    }
}

impl Schema {
    /// The errors of a schema applied at the top level (under `allOf` and the like).
    fn root_errors(&self, doc: &Document) -> Vec<Document> {
        let mut errors = self.document_errors(doc, None);
        errors.extend(self.logic_errors(|schema| schema.matches_root(doc), |schema| schema.root_errors(doc)));
        errors
    }

    /// The keywords a present nested value fails, in MongoDB's order.
    fn errors(&self, value: &Bson) -> Vec<Document> {
        let mut errors = Vec::new();
        match value {
            Bson::String(s) => self.string_errors(s, value, &mut errors),
            Bson::Array(items) => self.array_errors(items, value, &mut errors),
            Bson::Document(doc) => errors.extend(self.document_errors(doc, Some(value))),
            number if as_f64(number).is_some() => self.number_errors(number, &mut errors),
            _ => {}
        }
        if let Some(encrypt) = &self.encrypt {
            if !encrypt.matches(value) {
                let encrypted = matches!(value, Bson::Binary(b) if b.subtype == bson::spec::BinarySubtype::Encrypted);
                let reason = if encrypted { "encrypted value has wrong type" } else { "value was not encrypted" };
                errors.push(doc! {"operatorName": "encrypt", "reason": reason});
            }
        }
        errors.extend(self.logic_errors(|schema| schema.matches(value), |schema| schema.errors(value)));
        if let Some(values) = &self.enumeration {
            if !values.iter().any(|v| values_equal(v, value)) {
                errors.push(doc! {
                    "operatorName": "enum",
                    "specifiedAs": {"enum": values.clone()},
                    "reason": "value was not found in enum",
                    "consideredValue": value.clone(),
                });
            }
        }
        if let Some(types) = &self.types {
            if !types.contains(value) {
                let keyword = if self.spec.contains_key("type") { "type" } else { "bsonType" };
                errors.push(doc! {
                    "operatorName": keyword,
                    "specifiedAs": {keyword: self.spec.get(keyword).cloned().unwrap_or(Bson::Null)},
                    "reason": "type did not match",
                    "consideredValue": value.clone(),
                    "consideredType": crate::value::type_name(Some(value)),
                });
            }
        }
        errors
    }

    fn specified(&self, keywords: &[&str]) -> Document {
        keywords
            .iter()
            .filter_map(|k| self.spec.get(*k).map(|v| (k.to_string(), v.clone())))
            .filter(|(k, v)| !k.starts_with("exclusive") || matches!(v, Bson::Boolean(true)))
            .collect()
    }

    fn string_errors(&self, s: &str, value: &Bson, errors: &mut Vec<Document>) {
        let length = s.chars().count() as u64;
        let mut fail = |keyword: &str, reason: &str| {
            errors.push(doc! {
                "operatorName": keyword,
                "specifiedAs": self.specified(&[keyword]),
                "reason": reason,
                "consideredValue": value.clone(),
            })
        };
        if self.pattern.as_ref().is_some_and(|re| !re.is_match(s).unwrap_or(false)) {
            fail("pattern", "regular expression did not match");
        }
        if self.max_length.is_some_and(|max| length > max) {
            fail("maxLength", "specified string length was not satisfied");
        }
        if self.min_length.is_some_and(|min| length < min) {
            fail("minLength", "specified string length was not satisfied");
        }
    }

    fn number_errors(&self, value: &Bson, errors: &mut Vec<Document>) {
        if self.multiple_of.as_ref().is_some_and(|divisor| !is_multiple(value, divisor)) {
            errors.push(doc! {
                "operatorName": "multipleOf",
                "specifiedAs": self.specified(&["multipleOf"]),
                "reason": "considered value is not a multiple of the specified value",
                "consideredValue": value.clone(),
            });
        }
        for (keyword, exclusive, bound, wanted) in [
            ("maximum", "exclusiveMaximum", &self.maximum, Ordering::Less),
            ("minimum", "exclusiveMinimum", &self.minimum, Ordering::Greater),
        ] {
            let Some(bound) = bound else { continue };
            let holds = match compare_numbers(value, &bound.value) {
                Some(Ordering::Equal) => !bound.exclusive,
                Some(ordering) => ordering == wanted,
                None => false,
            };
            if !holds {
                errors.push(doc! {
                    "operatorName": keyword,
                    "specifiedAs": self.specified(&[keyword, exclusive]),
                    "reason": "comparison failed",
                    "consideredValue": value.clone(),
                });
            }
        }
    }

    fn array_errors(&self, items: &[Bson], value: &Bson, errors: &mut Vec<Document>) {
        let count = items.len() as u64;
        for (keyword, fails) in [
            ("minItems", self.min_items.is_some_and(|min| count < min)),
            ("maxItems", self.max_items.is_some_and(|max| count > max)),
        ] {
            if fails {
                errors.push(doc! {
                    "operatorName": keyword,
                    "specifiedAs": self.specified(&[keyword]),
                    "reason": "array did not match specified length",
                    "consideredValue": value.clone(),
                    "numberOfItems": items.len() as i32,
                });
            }
        }
        if self.unique_items {
            let duplicate = items.iter().enumerate().find(|(i, a)| items[..*i].iter().any(|b| values_equal(a, b)));
            if let Some((_, duplicate)) = duplicate {
                errors.push(doc! {
                    "operatorName": "uniqueItems",
                    "specifiedAs": {"uniqueItems": true},
                    "reason": "found a duplicate item",
                    "consideredValue": value.clone(),
                    "duplicatedValue": duplicate.clone(),
                });
            }
        }
        match &self.items {
            Items::Any => {}
            Items::Each(schema) => {
                if let Some((index, item)) = items.iter().enumerate().find(|(_, item)| !schema.matches(item)) {
                    let mut error = doc! {"operatorName": "items"};
                    annotate(&mut error, &schema.spec);
                    error.insert("reason", "At least one item did not match the sub-schema");
                    error.insert("itemIndex", index as i32);
                    error.insert("details", to_bson(schema.errors(item)));
                    errors.push(error);
                }
            }
            Items::Tuple(schemas) => {
                let failing: Vec<Bson> = schemas
                    .iter()
                    .zip(items)
                    .enumerate()
                    .filter(|(_, (schema, item))| !schema.matches(item))
                    .map(|(index, (schema, item))| {
                        Bson::from(doc! {"itemIndex": index as i64, "details": to_bson(schema.errors(item))})
                    })
                    .collect();
                if !failing.is_empty() {
                    errors.push(doc! {"operatorName": "items", "details": failing});
                }
                let extra = items.get(schemas.len()..).unwrap_or_default();
                match &self.additional_items {
                    Some(Additional::Allowed(false)) if !extra.is_empty() => errors.push(doc! {
                        "operatorName": "additionalItems",
                        "specifiedAs": {"additionalItems": false},
                        "reason": "found additional items",
                        "additionalItems": extra.to_vec(),
                    }),
                    Some(Additional::Schema(schema)) => {
                        if let Some((offset, item)) = extra.iter().enumerate().find(|(_, item)| !schema.matches(item)) {
                            let mut error = doc! {"operatorName": "additionalItems"};
                            annotate(&mut error, &schema.spec);
                            error.insert("reason", "At least one additional item did not match the sub-schema");
                            error.insert("itemIndex", (schemas.len() + offset) as i32);
                            error.insert("details", to_bson(schema.errors(item)));
                            errors.push(error);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// The keywords of documents; `value` is `doc` as a nested value, `None` at the
    /// top level.
    fn document_errors(&self, doc: &Document, value: Option<&Bson>) -> Vec<Document> {
        let mut errors = Vec::new();
        let failing: Vec<Bson> = self
            .properties
            .iter()
            .filter_map(|(name, schema)| {
                let property = doc.get(name)?;
                let details = schema.errors(property);
                if details.is_empty() {
                    return None;
                }
                let mut entry = doc! {"propertyName": name.as_str()};
                annotate(&mut entry, &schema.spec);
                entry.insert("details", to_bson(details));
                Some(Bson::from(entry))
            })
            .collect();
        if !failing.is_empty() {
            errors.push(doc! {"operatorName": "properties", "propertiesNotSatisfied": failing});
        }
        self.additional_errors(doc, &mut errors);
        let mut missing: Vec<&str> =
            self.required.iter().filter(|name| !super::exists(doc, name)).map(String::as_str).collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            errors.push(doc! {
                "operatorName": "required",
                "specifiedAs": self.specified(&["required"]),
                "missingProperties": missing,
            });
        }
        let count = doc.len() as u64;
        for (keyword, fails) in [
            ("minProperties", self.min_properties.is_some_and(|min| count < min)),
            ("maxProperties", self.max_properties.is_some_and(|max| count > max)),
        ] {
            if fails {
                errors.push(doc! {
                    "operatorName": keyword,
                    "specifiedAs": self.specified(&[keyword]),
                    "reason": "specified number of properties was not satisfied",
                    "numberOfProperties": doc.len() as i32,
                });
            }
        }
        let failing: Vec<Bson> = self
            .dependencies
            .iter()
            .filter(|(name, _)| super::exists(doc, name))
            .filter_map(|(name, dependency)| match dependency {
                Dependency::Fields(fields) => {
                    let missing: Vec<&str> =
                        fields.iter().filter(|f| !super::exists(doc, f)).map(String::as_str).collect();
                    (!missing.is_empty())
                        .then(|| Bson::from(doc! {"conditionalProperty": name.as_str(), "missingProperties": missing}))
                }
                Dependency::Schema(schema) => {
                    let details = match value {
                        Some(value) => schema.errors(value),
                        None => schema.root_errors(doc),
                    };
                    (!details.is_empty())
                        .then(|| Bson::from(doc! {"conditionalProperty": name.as_str(), "details": to_bson(details)}))
                }
            })
            .collect();
        if !failing.is_empty() {
            let mut error = doc! {"operatorName": "dependencies"};
            if let Ok(dependencies) = self.spec.get_document("dependencies") {
                annotate(&mut error, dependencies);
            }
            error.insert("failingDependencies", failing);
            errors.push(error);
        }
        errors
    }

    /// `additionalProperties` and `patternProperties`.
    fn additional_errors(&self, doc: &Document, errors: &mut Vec<Document>) {
        let covered = |name: &str| {
            self.properties.iter().any(|(p, _)| p == name)
                || self.pattern_properties.iter().any(|(re, _)| re.is_match(name).unwrap_or(false))
        };
        match &self.additional_properties {
            Some(Additional::Allowed(false)) => {
                let extra: Vec<&str> = doc.keys().map(String::as_str).filter(|name| !covered(name)).collect();
                if !extra.is_empty() {
                    errors.push(doc! {
                        "operatorName": "additionalProperties",
                        "specifiedAs": {"additionalProperties": false},
                        "additionalProperties": extra,
                    });
                }
            }
            Some(Additional::Schema(schema)) => {
                let failing = doc.iter().find(|(name, value)| !covered(name) && !schema.matches(value));
                if let Some((name, value)) = failing {
                    let mut error = doc! {"operatorName": "additionalProperties"};
                    annotate(&mut error, &schema.spec);
                    error.insert("reason", "at least one additional property did not match the subschema");
                    error.insert("failingProperty", name.as_str());
                    error.insert("details", to_bson(schema.errors(value)));
                    errors.push(error);
                }
            }
            _ => {}
        }
        let failing: Vec<Bson> = self
            .pattern_properties
            .iter()
            .filter_map(|(re, schema)| {
                let (name, value) =
                    doc.iter().find(|(name, value)| re.is_match(name).unwrap_or(false) && !schema.matches(value))?;
                let mut entry = doc! {"propertyName": name.as_str()};
                annotate(&mut entry, &schema.spec);
                entry.insert("regexMatched", re.pattern());
                entry.insert("details", to_bson(schema.errors(value)));
                Some(Bson::from(entry))
            })
            .collect();
        if !failing.is_empty() {
            errors.push(doc! {"operatorName": "patternProperties", "details": failing});
        }
    }

    /// `allOf`, `anyOf`, `oneOf` and `not`, with `matches` and `errors` applying a
    /// subschema at this level.
    fn logic_errors(
        &self,
        matches: impl Fn(&Schema) -> bool,
        errors: impl Fn(&Schema) -> Vec<Document>,
    ) -> Vec<Document> {
        let mut out = Vec::new();
        let entry = |index: usize, schema: &Schema| {
            let mut entry = doc! {"index": index as i32};
            annotate(&mut entry, &schema.spec);
            entry.insert("details", to_bson(errors(schema)));
            Bson::from(entry)
        };
        let failing: Vec<Bson> =
            self.all_of.iter().enumerate().filter(|(_, s)| !matches(s)).map(|(i, s)| entry(i, s)).collect();
        if !failing.is_empty() {
            out.push(doc! {"operatorName": "allOf", "schemasNotSatisfied": failing});
        }
        if !self.any_of.is_empty() && !self.any_of.iter().any(&matches) {
            let all: Vec<Bson> = self.any_of.iter().enumerate().map(|(i, s)| entry(i, s)).collect();
            out.push(doc! {"operatorName": "anyOf", "schemasNotSatisfied": all});
        }
        if !self.one_of.is_empty() {
            let matching: Vec<i32> =
                self.one_of.iter().enumerate().filter(|(_, s)| matches(s)).map(|(i, _)| i as i32).collect();
            match matching.len() {
                1 => {}
                0 => {
                    let all: Vec<Bson> = self.one_of.iter().enumerate().map(|(i, s)| entry(i, s)).collect();
                    out.push(doc! {"operatorName": "oneOf", "schemasNotSatisfied": all});
                }
                _ => out.push(doc! {
                    "operatorName": "oneOf",
                    "reason": "more than one subschema matched",
                    "matchingSchemaIndexes": matching,
                }),
            }
        }
        if self.not.as_deref().is_some_and(&matches) {
            out.push(doc! {"operatorName": "not", "reason": "child expression matched"});
        }
        out
    }
}

/// Adds a schema's `title` and `description` (when they are strings).
fn annotate(out: &mut Document, spec: &Document) {
    for key in ["title", "description"] {
        if let Ok(text) = spec.get_str(key) {
            out.insert(key, text);
        }
    }
}

fn to_bson(errors: Vec<Document>) -> Vec<Bson> {
    errors.into_iter().map(Bson::from).collect()
}
