//! `$text`: the operator's arguments, and its search string read as MongoDB reads
//! it: words, `"quoted phrases"`, and `-` before a word or a phrase (after white
//! space or at the start) to exclude it. A hyphen inside a word only separates.

use std::collections::BTreeSet;

use bson::Bson;

use super::tokens::{self, Sensitivity};
use super::Language;
use crate::error::{Error, ErrorCode, Result};

/// The arguments of a `$text` condition.
#[derive(Debug, Clone, PartialEq)]
pub struct TextQuery {
    pub search: String,
    /// `$language` as given: `None` (or empty) for the index's default language.
    pub language: Option<String>,
    pub sensitivity: Sensitivity,
}

impl TextQuery {
    /// Parses `{$search, $language, $caseSensitive, $diacriticSensitive}`.
    pub fn parse(value: &Bson) -> Result<TextQuery> {
        let Bson::Document(args) = value else {
            return Err(Error::bad_value("$text expects an object"));
        };
        let mut search = None;
        let mut language = None;
        let mut sensitivity = Sensitivity::NONE;
        for (name, value) in args {
            match (name.as_str(), value) {
                ("$search", Bson::String(text)) => search = Some(text.clone()),
                ("$language", Bson::String(name)) => language = Some(name.clone()).filter(|n| !n.is_empty()),
                ("$caseSensitive", Bson::Boolean(flag)) => sensitivity.case = *flag,
                ("$diacriticSensitive", Bson::Boolean(flag)) => sensitivity.diacritics = *flag,
                ("$search" | "$language", other) => return Err(wrong_type(name, "string", other)),
                ("$caseSensitive" | "$diacriticSensitive", other) => return Err(wrong_type(name, "bool", other)),
                _ => return Err(Error::bad_value("extra fields in $text")),
            }
        }
        let search =
            search.ok_or_else(|| Error::command(ErrorCode::NoSuchKey, "Missing expected field \"$search\""))?;
        Ok(TextQuery { search, language, sensitivity })
    }

    /// The language the search is in: `$language`, else `default`; MongoDB's
    /// error 2 for a language it does not know.
    pub fn language(&self, default: Language) -> Result<Language> {
        match &self.language {
            None => Ok(default),
            Some(name) => Language::parse(name)
                .ok_or_else(|| Error::bad_value(format!("unsupported language: \"{name}\" for text index version 3"))),
        }
    }
}

fn wrong_type(name: &str, expected: &str, found: &Bson) -> Error {
    Error::type_mismatch(format!(
        "\"{name}\" had the wrong type. Expected {expected}, found {}",
        crate::value::type_name(Some(found))
    ))
}

/// What a search string asks for, in terms of one language.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Terms {
    /// Terms a match holds at least one of, folded as the search's sensitivity says.
    pub positive: BTreeSet<String>,
    /// The same terms folded as index keys are (neither case nor diacritics): what
    /// the index is read for and scores count.
    pub keys: BTreeSet<String>,
    pub negated: BTreeSet<String>,
    pub phrases: Vec<String>,
    pub negated_phrases: Vec<String>,
}

/// How one character of a search string reads (tab is not white space here).
#[derive(PartialEq)]
enum Kind {
    Space,
    Quote,
    Minus,
    Text,
}

fn kind(c: char) -> Kind {
    match c {
        ' ' | '\n' | '\u{b}' | '\u{c}' | '\r' => Kind::Space,
        '"' => Kind::Quote,
        '-' => Kind::Minus,
        _ => Kind::Text,
    }
}

impl Terms {
    /// Reads a search string as MongoDB does: runs of text are words; a quote opens
    /// or closes a phrase (whose words are terms too, unless the phrase is
    /// negated; an unclosed phrase is no phrase); a minus right after white space
    /// (or first) negates the words up to the next white space, or the phrase it
    /// opens; a minus elsewhere only separates.
    pub fn parse(search: &str, language: Language, sensitivity: Sensitivity) -> Terms {
        let mut terms = Terms::default();
        let (mut positive, mut negative) = (String::new(), String::new());
        let (mut negated, mut in_phrase) = (false, false);
        let mut phrase_start = 0;
        let mut after_space = true;
        let mut chars = search.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match kind(c) {
                Kind::Space => {
                    after_space = true;
                    continue;
                }
                Kind::Minus => {
                    if !in_phrase && after_space {
                        negated = true;
                    }
                }
                Kind::Quote if in_phrase => {
                    let phrase = search[phrase_start..at].to_owned();
                    match negated {
                        true => terms.negated_phrases.push(phrase),
                        false => terms.phrases.push(phrase),
                    }
                    in_phrase = false;
                }
                Kind::Quote => {
                    negated &= !after_space;
                    in_phrase = true;
                    phrase_start = at + 1;
                }
                Kind::Text => {
                    let mut end = at + c.len_utf8();
                    while let Some(&(next, c)) = chars.peek() {
                        if kind(c) != Kind::Text {
                            break;
                        }
                        end = next + c.len_utf8();
                        chars.next();
                    }
                    if !(in_phrase && negated) {
                        negated &= !after_space;
                        let sentence = if negated { &mut negative } else { &mut positive };
                        sentence.push_str(&search[at..end]);
                        sentence.push(' ');
                    }
                }
            }
            after_space = false;
        }
        terms.keys = tokens::terms(&positive, language, Sensitivity::NONE).collect();
        terms.positive = tokens::terms(&positive, language, sensitivity).collect();
        terms.negated = tokens::terms(&negative, language, sensitivity).collect();
        terms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(search: &str) -> Terms {
        Terms::parse(search, Language::English, Sensitivity::NONE)
    }

    fn set(terms: &[&str]) -> BTreeSet<String> {
        terms.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn words_phrases_and_negations() {
        let t = parse("coffee -shop \"iced tea\" -\"hot chocolate\" pre-market");
        assert_eq!(t.positive, set(&["coffe", "ice", "tea", "pre", "market"]));
        assert_eq!(t.negated, set(&["shop"]));
        assert_eq!(t.phrases, ["iced tea"]);
        assert_eq!(t.negated_phrases, ["hot chocolate"]);
    }

    #[test]
    fn a_negation_lasts_to_the_next_space() {
        let t = parse("-coffee-cake bake");
        assert_eq!(t.negated, set(&["coffe", "cake"]));
        assert_eq!(t.positive, set(&["bake"]));
        let t = parse("- coffee");
        assert_eq!(t.positive, set(&["coffe"]));
    }

    #[test]
    fn mongodbs_reference_parses() {
        let t = parse("-\"really fun\"-\"stuff here\" \"another phrase\"");
        assert_eq!(t.positive, set(&["anoth", "phrase"]));
        assert_eq!(t.negated_phrases, ["really fun", "stuff here"]);
        assert_eq!(t.phrases, ["another phrase"]);
        let t = parse("\"industry\" -Melbourne -Physics");
        assert_eq!(t.positive, set(&["industri"]));
        assert_eq!(t.negated, set(&["melbourn", "physic"]));
        let sensitive =
            Terms::parse("This is Positively fun", Language::English, Sensitivity { case: true, diacritics: false });
        assert_eq!(sensitive.keys, set(&["posit", "fun"]));
        assert_eq!(sensitive.positive, set(&["Posit", "fun"]));
    }

    #[test]
    fn stop_words_are_no_terms_and_an_open_quote_no_phrase() {
        let t = parse("the \"a cafe");
        assert_eq!(t.positive, set(&["cafe"]));
        assert!(t.phrases.is_empty());
    }

    #[test]
    fn arguments_are_checked() {
        let code = |v: Bson| TextQuery::parse(&v).expect_err("refused").code().code();
        assert_eq!(code(Bson::Int32(1)), 2);
        assert_eq!(code(bson::bson!({})), 4);
        assert_eq!(code(bson::bson!({"$search": 1})), 14);
        assert_eq!(code(bson::bson!({"$search": "x", "$caseSensitive": 1})), 14);
        assert_eq!(code(bson::bson!({"$search": "x", "$nope": 1})), 2);
        let q = TextQuery::parse(&bson::bson!({"$search": "x", "$language": "es", "$caseSensitive": true}))
            .expect("parses");
        assert_eq!(q.language(Language::English).expect("known"), Language::Spanish);
        assert!(q.sensitivity.case);
        let q = TextQuery::parse(&bson::bson!({"$search": "x", "$language": "xx"})).expect("parses");
        assert_eq!(q.language(Language::English).expect_err("unknown").code().code(), 2);
    }
}
