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

/// The locales MongoDB 8.0 has collation data for, as it names them (ICU's
/// underscore form, case-sensitive); others are refused.
const LOCALES: &[&str] = &[
    "af",
    "am",
    "ar",
    "as",
    "az",
    "be",
    "bg",
    "bn",
    "bo",
    "bs",
    "bs_Cyrl",
    "ca",
    "chr",
    "cs",
    "cy",
    "da",
    "de",
    "de_AT",
    "dsb",
    "dz",
    "ee",
    "el",
    "en",
    "en_US",
    "en_US_POSIX",
    "eo",
    "es",
    "et",
    "fa",
    "fa_AF",
    "fi",
    "fil",
    "fo",
    "fr",
    "fr_CA",
    "ga",
    "gl",
    "gu",
    "ha",
    "haw",
    "he",
    "hi",
    "hr",
    "hsb",
    "hu",
    "hy",
    "id",
    "ig",
    "is",
    "it",
    "ja",
    "ka",
    "kk",
    "kl",
    "km",
    "kn",
    "ko",
    "kok",
    "ky",
    "lb",
    "lkt",
    "ln",
    "lo",
    "lt",
    "lv",
    "mk",
    "ml",
    "mn",
    "mr",
    "ms",
    "mt",
    "my",
    "nb",
    "ne",
    "nl",
    "nn",
    "om",
    "or",
    "pa",
    "pl",
    "ps",
    "pt",
    "ro",
    "ru",
    "se",
    "si",
    "sk",
    "sl",
    "smn",
    "sq",
    "sr",
    "sr_Latn",
    "sv",
    "sw",
    "ta",
    "te",
    "th",
    "to",
    "tr",
    "ug",
    "uk",
    "ur",
    "vi",
    "wae",
    "yi",
    "yo",
    "zh",
    "zh_Hant",
    "zu",
];

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
        // MongoDB checks the other fields' types and values, then ignores them.
        if fields.locale == "simple" {
            return Ok(None);
        }
        Collation::build(fields, spec).map(|c| Some(Arc::new(c)))
    }

    fn build(fields: Fields, given: &Document) -> Result<Collation> {
        let shown = || super::show::document(given);
        if fields.locale.contains('\0') {
            return Err(Error::bad_value(format!(
                "Field 'locale' cannot contain null byte. Collation spec: {}",
                shown()
            )));
        }
        if fields.locale.is_empty() {
            return Err(Error::bad_value(format!("Field 'locale' cannot be the empty string in: {}", shown())));
        }
        if let Some((base, variant)) = fields.locale.split_once("@collation=") {
            if LOCALES.contains(&base) {
                return Err(Error::command(
                    ErrorCode::NotImplemented,
                    format!("the collation variant '{variant}' of locale '{base}' is not supported yet"),
                ));
            }
        }
        if !LOCALES.contains(&fields.locale.as_str()) {
            let wanted = fields.locale.replace('-', "_").to_lowercase();
            let suggestion = LOCALES.iter().find(|known| known.to_lowercase() == wanted);
            let did_you_mean = suggestion.map(|s| format!(". Did you mean '{s}'?")).unwrap_or_default();
            return Err(Error::bad_value(format!("Field 'locale' is invalid in: {}{did_you_mean}", shown())));
        }
        let locale = icu_locale_core::Locale::try_from_str(&fields.locale.replace('_', "-"))
            .map_err(|_| Error::bad_value(format!("Field 'locale' is not valid in: {}", shown())))?;
        let mut options = CollatorOptions::default();
        options.strength = fields.strength.map(|strength| match strength {
            1 => Strength::Primary,
            2 => Strength::Secondary,
            3 => Strength::Tertiary,
            4 => Strength::Quaternary,
            _ => Strength::Identical,
        });
        options.case_level = fields.case_level.map(|on| if on { CaseLevel::On } else { CaseLevel::Off });
        options.alternate_handling = fields.alternate.as_deref().map(|alternate| match alternate {
            "shifted" => AlternateHandling::Shifted,
            _ => AlternateHandling::NonIgnorable,
        });
        options.max_variable = fields.max_variable.as_deref().map(|max| match max {
            "space" => MaxVariable::Space,
            _ => MaxVariable::Punctuation,
        });
        let mut prefs = CollatorPreferences::from(&locale);
        prefs.case_first = fields.case_first.as_deref().map(|first| match first {
            "upper" => CollationCaseFirst::Upper,
            "lower" => CollationCaseFirst::Lower,
            _ => CollationCaseFirst::False,
        });
        prefs.numeric_ordering = fields.numeric_ordering.map(|on| {
            if on {
                CollationNumericOrdering::True
            } else {
                CollationNumericOrdering::False
            }
        });
        let collator = CollatorBorrowed::try_new(prefs, options).map_err(|e| {
            Error::command(
                ErrorCode::OperationFailed,
                format!("Failed to create collator: {e}. Collation spec: {}", shown()),
            )
        })?;
        // What the collation is, the locale's defaults filled in.
        let resolved = collator.resolved_options();
        let strength = match resolved.strength {
            Strength::Primary => 1,
            Strength::Secondary => 2,
            Strength::Tertiary => 3,
            Strength::Quaternary => 4,
            _ => 5,
        };
        let case_level = resolved.case_level == CaseLevel::On;
        let case_first = match resolved.case_first {
            CollationCaseFirst::Upper => "upper",
            CollationCaseFirst::Lower => "lower",
            _ => "off",
        };
        let alternate =
            if resolved.alternate_handling == AlternateHandling::Shifted { "shifted" } else { "non-ignorable" };
        let max_variable = if resolved.max_variable == MaxVariable::Space { "space" } else { "punct" };
        let numeric = resolved.numeric == CollationNumericOrdering::True;
        // Canadian French compares its secondary level backwards; ICU4X takes that
        // from the locale only.
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
        if let Some(version) = &fields.version {
            if version != VERSION {
                return Err(Error::command(
                    ErrorCode::IncompatibleCollationVersion,
                    format!(
                        "Requested collation version {version} but the only available collator version was {VERSION}. Requested collation spec: {}",
                        shown()
                    ),
                ));
            }
        }
        if backwards && strength == 1 {
            return Err(Error::bad_value(format!("'backwards' is invalid with 'strength' of 1 in: {}", shown())));
        }
        if case_first != "off" && !case_level && strength <= 2 {
            return Err(Error::bad_value(format!(
                "'caseFirst' is invalid unless 'caseLevel' is on or 'strength' is greater than 2 in: {}",
                shown()
            )));
        }
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
    version: Option<String>,
}

impl Fields {
    fn parse(spec: &Document) -> Result<Fields> {
        let mut fields = Fields::default();
        let mut locale = None;
        for (name, value) in spec {
            // A null option is given as its default (the locale's does not apply).
            if matches!(value, Bson::Null | Bson::Undefined) && !matches!(name.as_str(), "locale" | "backwards") {
                match name.as_str() {
                    "strength" => fields.strength = Some(3),
                    "caseLevel" => fields.case_level = Some(false),
                    "caseFirst" => fields.case_first = Some("off".to_owned()),
                    "numericOrdering" => fields.numeric_ordering = Some(false),
                    "alternate" => fields.alternate = Some("non-ignorable".to_owned()),
                    "maxVariable" => fields.max_variable = Some("punct".to_owned()),
                    "normalization" => fields.normalization = Some(false),
                    "version" => {}
                    other => {
                        return Err(Error::command(
                            ErrorCode::Location40415,
                            format!("BSON field 'collation.{other}' is an unknown field."),
                        ))
                    }
                }
                continue;
            }
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
                            super::number::as_f64(value).map_or(0.0, f64::trunc)
                        }
                        _ => {
                            return Err(Error::type_mismatch(format!(
                                "BSON field 'collation.strength' is the wrong type '{}', expected types '[double, decimal, long, int]'",
                                super::type_name(Some(value))
                            )))
                        }
                    };
                    if strength > 5.0 {
                        return Err(Error::bad_value(format!(
                            "BSON field 'strength' value must be <= 5, actual value '{strength}'"
                        )));
                    }
                    if strength < 0.0 {
                        return Err(Error::bad_value(format!(
                            "BSON field 'strength' value must be >= 0, actual value '{strength}'"
                        )));
                    }
                    if strength == 0.0 || strength.is_nan() {
                        return Err(Error::bad_value(
                            "Enumeration value '0' for field 'collation.strength' is not a valid value.",
                        ));
                    }
                    fields.strength = Some(strength as i32);
                }
                "caseLevel" => fields.case_level = Some(boolean()?),
                "caseFirst" => fields.case_first = Some(choice(&["upper", "lower", "off"])?),
                "numericOrdering" => fields.numeric_ordering = Some(boolean()?),
                "alternate" => fields.alternate = Some(choice(&["non-ignorable", "shifted"])?),
                "maxVariable" => fields.max_variable = Some(choice(&["punct", "space"])?),
                "normalization" => fields.normalization = Some(boolean()?),
                "backwards" => match value {
                    Bson::Boolean(b) => fields.backwards = Some(*b),
                    other => {
                        return Err(Error::type_mismatch(format!(
                            "Field 'backwards' should be a boolean value, but found: {}",
                            super::type_name(Some(other))
                        )))
                    }
                },
                "version" => match value {
                    Bson::String(v) => fields.version = Some(v.clone()),
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
        assert_eq!(code(doc! {"locale": "EN"}), 2);
        assert_eq!(code(doc! {"locale": "en", "version": "1.0"}), 161);
        assert_eq!(code(doc! {"locale": "en", "strength": 2, "caseFirst": "upper"}), 2);
        assert!(Collation::parse(&Bson::Document(doc! {"locale": "simple"})).expect("simple").is_none());
        // Checked, then ignored.
        assert!(Collation::parse(&Bson::Document(doc! {"locale": "simple", "strength": 1})).expect("simple").is_none());
    }
}
