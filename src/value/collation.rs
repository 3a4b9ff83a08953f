//! Collation: comparing strings by a language's rules rather than by their bytes,
//! as MongoDB's `collation` documents ask (`{locale: "en_US", strength: 2}`), through
//! ICU4X's collator. A [`Collation`] compares text and makes sort keys (bytes whose
//! order is the collation's order, for index keys); the simple collation (`locale:
//! "simple"`, MongoDB's default) is no `Collation` at all: bytes compare as they are.

use std::cmp::Ordering;
use std::sync::Arc;

use bson::{doc, Bson, Document};
use icu_collator::options::{AlternateHandling, CaseLevel, CollatorOptions, MaxVariable, Strength};
use icu_collator::preferences::{CollationCaseFirst, CollationNumericOrdering};
use icu_collator::{CollatorBorrowed, CollatorPreferences};

use crate::error::{Error, ErrorCode, Result};

/// The ICU version MongoDB reports collations with.
const VERSION: &str = "57.1";

/// A collation other than the simple one.
pub struct Collation {
    /// Every field, as MongoDB reports a collation (`listIndexes`, `listCollections`).
    spec: Document,
    collator: CollatorBorrowed<'static>,
}

impl std::fmt::Debug for Collation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Collation({})", self.spec)
    }
}

impl PartialEq for Collation {
    fn eq(&self, other: &Collation) -> bool {
        self.spec == other.spec
    }
}

impl Collation {
    /// Parses a `collation` argument; `None` for the simple collation.
    pub fn parse(spec: &Bson) -> Result<Option<Arc<Collation>>> {
        let Bson::Document(spec) = spec else {
            return Err(Error::type_mismatch(format!(
                "BSON field 'collation' is the wrong type '{}', expected type 'object'",
                super::type_name(Some(spec))
            )));
        };
        let fields = Fields::parse(spec)?;
        if fields.locale == "simple" {
            if spec.len() > 1 {
                return Err(Error::bad_value(
                    "If \"locale\" is set to \"simple\", then \"strength\", \"caseLevel\", \"caseFirst\", \"numericOrdering\", \"alternate\", \"maxVariable\", \"normalization\", \"backwards\" and \"version\" may not be set",
                ));
            }
            return Ok(None);
        }
        Collation::build(fields).map(|c| Some(Arc::new(c)))
    }

    fn build(fields: Fields) -> Result<Collation> {
        let bcp47 = fields.locale.replace('_', "-");
        let locale = match bcp47.as_str() {
            "root" | "" => icu_locale_core::Locale::UNKNOWN,
            other => icu_locale_core::Locale::try_from_str(other).map_err(|_| invalid_locale(&fields.locale))?,
        };
        // Locales whose secondary level is compared backwards (French of Canada).
        let backwards_by_default = fields.locale == "fr_CA";
        let backwards = fields.backwards.unwrap_or(backwards_by_default);
        if backwards != backwards_by_default {
            return Err(Error::command(
                ErrorCode::NotImplemented,
                format!(
                    "collation backwards: {backwards} is not supported for locale \"{}\": its secondary level is compared {}",
                    fields.locale,
                    if backwards_by_default { "backwards" } else { "forwards" }
                ),
            ));
        }
        let strength = fields.strength.unwrap_or(3);
        let mut options = CollatorOptions::default();
        options.strength = Some(match strength {
            1 => Strength::Primary,
            2 => Strength::Secondary,
            3 => Strength::Tertiary,
            4 => Strength::Quaternary,
            _ => Strength::Identical,
        });
        let case_level = fields.case_level.unwrap_or(false);
        options.case_level = Some(if case_level { CaseLevel::On } else { CaseLevel::Off });
        let alternate = fields.alternate.clone().unwrap_or_else(|| "non-ignorable".to_owned());
        options.alternate_handling =
            Some(if alternate == "shifted" { AlternateHandling::Shifted } else { AlternateHandling::NonIgnorable });
        let max_variable = fields.max_variable.clone().unwrap_or_else(|| "punct".to_owned());
        options.max_variable =
            Some(if max_variable == "space" { MaxVariable::Space } else { MaxVariable::Punctuation });
        let mut prefs = CollatorPreferences::from(&locale);
        let case_first = fields.case_first.clone().unwrap_or_else(|| "off".to_owned());
        prefs.case_first = Some(match case_first.as_str() {
            "upper" => CollationCaseFirst::Upper,
            "lower" => CollationCaseFirst::Lower,
            _ => CollationCaseFirst::False,
        });
        let numeric = fields.numeric_ordering.unwrap_or(false);
        prefs.numeric_ordering =
            Some(if numeric { CollationNumericOrdering::True } else { CollationNumericOrdering::False });
        let collator = CollatorBorrowed::try_new(prefs, options).map_err(|_| invalid_locale(&fields.locale))?;
        let spec = doc! {
            "locale": &fields.locale,
            "caseLevel": case_level,
            "caseFirst": case_first,
            "strength": strength,
            "numericOrdering": numeric,
            "alternate": alternate,
            "maxVariable": max_variable,
            "normalization": fields.normalization.unwrap_or(false),
            "backwards": backwards,
            "version": VERSION,
        };
        Ok(Collation { spec, collator })
    }

    /// The collation with every field, as MongoDB reports it.
    pub fn spec(&self) -> &Document {
        &self.spec
    }

    /// Compares two strings.
    pub fn compare_text(&self, a: &str, b: &str) -> Ordering {
        self.collator.compare(a, b)
    }

    /// Appends the sort key of `text`: bytes that compare as the text does.
    pub fn write_key(&self, text: &str, out: &mut Vec<u8>) {
        let Ok(()) = self.collator.write_sort_key_to(text, out);
    }
}

fn invalid_locale(locale: &str) -> Error {
    Error::bad_value(format!("Field 'locale' is invalid in: {{ locale: \"{locale}\" }}"))
}

/// The fields of a collation document, each checked for its type and values.
#[derive(Default)]
struct Fields {
    locale: String,
    strength: Option<i32>,
    case_level: Option<bool>,
    case_first: Option<String>,
    numeric_ordering: Option<bool>,
    alternate: Option<String>,
    max_variable: Option<String>,
    normalization: Option<bool>,
    backwards: Option<bool>,
}

impl Fields {
    fn parse(spec: &Document) -> Result<Fields> {
        let mut fields = Fields::default();
        let mut locale = None;
        for (name, value) in spec {
            let wrong_type = |expected: &str| {
                Error::type_mismatch(format!(
                    "BSON field 'collation.{name}' is the wrong type '{}', expected type '{expected}'",
                    super::type_name(Some(value))
                ))
            };
            let boolean = || match value {
                Bson::Boolean(b) => Ok(*b),
                _ => Err(wrong_type("bool")),
            };
            let choice = |allowed: &[&str]| match value {
                Bson::String(s) if allowed.contains(&s.as_str()) => Ok(s.clone()),
                Bson::String(s) => Err(Error::bad_value(format!(
                    "Enumeration value '{s}' for field 'collation.{name}' is not a valid value."
                ))),
                _ => Err(wrong_type("string")),
            };
            match name.as_str() {
                "locale" => match value {
                    Bson::String(s) => locale = Some(s.clone()),
                    _ => return Err(wrong_type("string")),
                },
                "strength" => {
                    let strength = match value {
                        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => {
                            super::number::as_f64(value).unwrap_or(f64::NAN)
                        }
                        _ => return Err(wrong_type("int")),
                    };
                    if strength.fract() != 0.0 || !(1.0..=5.0).contains(&strength) {
                        return Err(Error::bad_value(format!(
                            "BSON field 'strength' value must be >= 1 and <= 5, actual value '{strength}'"
                        )));
                    }
                    fields.strength = Some(strength as i32);
                }
                "caseLevel" => fields.case_level = Some(boolean()?),
                "caseFirst" => fields.case_first = Some(choice(&["upper", "lower", "off"])?),
                "numericOrdering" => fields.numeric_ordering = Some(boolean()?),
                "alternate" => fields.alternate = Some(choice(&["non-ignorable", "shifted"])?),
                "maxVariable" => fields.max_variable = Some(choice(&["punct", "space"])?),
                "normalization" => fields.normalization = Some(boolean()?),
                "backwards" => fields.backwards = Some(boolean()?),
                "version" => match value {
                    Bson::String(v) if v == VERSION => {}
                    Bson::String(v) => {
                        return Err(Error::bad_value(format!("Field 'version' must be \"{VERSION}\", but was \"{v}\"")))
                    }
                    _ => return Err(wrong_type("string")),
                },
                other => {
                    return Err(Error::command(
                        ErrorCode::Location40415,
                        format!("BSON field 'collation.{other}' is an unknown field."),
                    ))
                }
            }
        }
        fields.locale = locale.ok_or_else(|| {
            Error::command(ErrorCode::Location40414, "BSON field 'collation.locale' is missing but a required field")
        })?;
        Ok(fields)
    }
}

/// Compares two strings under `collation` (by bytes without one).
pub fn compare_text(a: &str, b: &str, collation: Option<&Collation>) -> Ordering {
    match collation {
        Some(collation) => collation.compare_text(a, b),
        None => a.as_bytes().cmp(b.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collation(spec: Document) -> Arc<Collation> {
        Collation::parse(&Bson::Document(spec)).expect("parses").expect("not simple")
    }

    #[test]
    fn strength_two_ignores_case_but_not_accents() {
        let c = collation(doc! {"locale": "en_US", "strength": 2});
        assert_eq!(c.compare_text("ping", "PING"), Ordering::Equal);
        assert_ne!(c.compare_text("cote", "côte"), Ordering::Equal);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        c.write_key("Ping", &mut a);
        c.write_key("pinG", &mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn strength_one_ignores_accents_and_numeric_ordering_reads_numbers() {
        let c = collation(doc! {"locale": "fr", "strength": 1});
        assert_eq!(c.compare_text("côté", "COTE"), Ordering::Equal);
        let n = collation(doc! {"locale": "en", "numericOrdering": true});
        assert_eq!(n.compare_text("10", "9"), Ordering::Greater);
        let plain = collation(doc! {"locale": "en"});
        assert_eq!(plain.compare_text("10", "9"), Ordering::Less);
    }

    #[test]
    fn the_spec_is_reported_whole() {
        let c = collation(doc! {"locale": "en_US", "strength": 2});
        assert_eq!(
            c.spec(),
            &doc! {"locale": "en_US", "caseLevel": false, "caseFirst": "off", "strength": 2, "numericOrdering": false,
            "alternate": "non-ignorable", "maxVariable": "punct", "normalization": false, "backwards": false, "version": "57.1"}
        );
    }

    #[test]
    fn bad_specs_are_refused() {
        let code = |spec: Document| Collation::parse(&Bson::Document(spec)).expect_err("refused").code().code();
        assert_eq!(code(doc! {"strength": 2}), 40414);
        assert_eq!(code(doc! {"locale": "en", "strength": 6}), 2);
        assert_eq!(code(doc! {"locale": "en", "caseFirst": "sideways"}), 2);
        assert_eq!(code(doc! {"locale": "en", "colour": 1}), 40415);
        assert_eq!(code(doc! {"locale": 1}), 14);
        assert_eq!(code(doc! {"locale": "simple", "strength": 1}), 2);
        assert!(Collation::parse(&Bson::Document(doc! {"locale": "simple"})).expect("simple").is_none());
    }
}
