//! The languages of text search: the names and codes MongoDB's text indexes accept
//! (`textIndexVersion` 3), each with its Snowball stemmer and stop words. `none`
//! neither stems nor drops stop words.

use std::collections::HashSet;
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

/// A language of text search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Danish,
    Dutch,
    English,
    Finnish,
    French,
    German,
    Hungarian,
    Italian,
    Norwegian,
    Portuguese,
    Romanian,
    Russian,
    Spanish,
    Swedish,
    Turkish,
    None,
}

/// Every language with the names that select it: its English name and its ISO
/// 639-1 code, as MongoDB spells them.
const NAMES: [(Language, &str, &str); 16] = [
    (Language::Danish, "danish", "da"),
    (Language::Dutch, "dutch", "nl"),
    (Language::English, "english", "en"),
    (Language::Finnish, "finnish", "fi"),
    (Language::French, "french", "fr"),
    (Language::German, "german", "de"),
    (Language::Hungarian, "hungarian", "hu"),
    (Language::Italian, "italian", "it"),
    (Language::Norwegian, "norwegian", "nb"),
    (Language::Portuguese, "portuguese", "pt"),
    (Language::Romanian, "romanian", "ro"),
    (Language::Russian, "russian", "ru"),
    (Language::Spanish, "spanish", "es"),
    (Language::Swedish, "swedish", "sv"),
    (Language::Turkish, "turkish", "tr"),
    (Language::None, "none", "none"),
];

impl Language {
    /// The language a name or code selects (case-insensitively, as MongoDB).
    pub fn parse(name: &str) -> Option<Language> {
        let name = name.to_ascii_lowercase();
        NAMES.iter().find(|(_, long, code)| *long == name || *code == name).map(|(language, ..)| *language)
    }

    /// Its English name.
    pub fn name(self) -> &'static str {
        NAMES.iter().find(|(language, ..)| *language == self).map_or("none", |(_, name, _)| name)
    }

    /// Its ISO 639-1 code.
    pub fn code(self) -> &'static str {
        NAMES.iter().find(|(language, ..)| *language == self).map_or("none", |(.., code)| code)
    }

    fn index(self) -> usize {
        NAMES.iter().position(|(language, ..)| *language == self).unwrap_or(NAMES.len() - 1)
    }

    fn algorithm(self) -> Option<Algorithm> {
        Some(match self {
            Language::Danish => Algorithm::Danish,
            Language::Dutch => Algorithm::Dutch,
            Language::English => Algorithm::English,
            Language::Finnish => Algorithm::Finnish,
            Language::French => Algorithm::French,
            Language::German => Algorithm::German,
            Language::Hungarian => Algorithm::Hungarian,
            Language::Italian => Algorithm::Italian,
            Language::Norwegian => Algorithm::Norwegian,
            Language::Portuguese => Algorithm::Portuguese,
            Language::Romanian => Algorithm::Romanian,
            Language::Russian => Algorithm::Russian,
            Language::Spanish => Algorithm::Spanish,
            Language::Swedish => Algorithm::Swedish,
            Language::Turkish => Algorithm::Turkish,
            Language::None => return None,
        })
    }

    /// The stem of a folded word (the word itself for `none`).
    pub fn stem(self, word: &str) -> String {
        static STEMMERS: OnceLock<Vec<Option<Stemmer>>> = OnceLock::new();
        let stemmers =
            STEMMERS.get_or_init(|| NAMES.iter().map(|(l, ..)| l.algorithm().map(Stemmer::create)).collect());
        match &stemmers[self.index()] {
            Some(stemmer) => stemmer.stem(word).into_owned(),
            None => word.to_owned(),
        }
    }

    /// Whether a folded word is one of the language's stop words, which text
    /// search neither indexes nor looks for.
    pub fn is_stop_word(self, word: &str) -> bool {
        static LISTS: OnceLock<Vec<HashSet<&'static str>>> = OnceLock::new();
        let lists = LISTS.get_or_init(|| NAMES.iter().map(|(l, ..)| stop_words(*l).into_iter().collect()).collect());
        lists[self.index()].contains(word)
    }

    /// Whether case folds by Turkish rules (dotted and dotless i).
    pub fn turkish(self) -> bool {
        self == Language::Turkish
    }
}

/// The stop words of a language. English has the Snowball project's list, as
/// MongoDB does (NLTK's adds some and lacks others); the other languages have the
/// Snowball lists as NLTK publishes them (the `stop-words` crate).
fn stop_words(language: Language) -> Vec<&'static str> {
    match language {
        Language::English => include_str!("english_stop_words.txt").lines().collect(),
        Language::None => Vec::new(),
        Language::Norwegian => stop_words::lookup("no").unwrap_or_default().to_vec(),
        other => stop_words::lookup(other.code()).unwrap_or_default().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_select_languages() {
        assert_eq!(Language::parse("english"), Some(Language::English));
        assert_eq!(Language::parse("EN"), Some(Language::English));
        assert_eq!(Language::parse("none"), Some(Language::None));
        assert_eq!(Language::parse("klingon"), None);
        assert_eq!(Language::Spanish.name(), "spanish");
    }

    #[test]
    fn english_stems_and_drops_stop_words() {
        assert_eq!(Language::English.stem("coffees"), "coffe");
        assert_eq!(Language::English.stem("running"), "run");
        assert!(Language::English.is_stop_word("the"));
        assert!(!Language::English.is_stop_word("coffee"));
        assert!(!Language::None.is_stop_word("the"));
        assert_eq!(Language::None.stem("running"), "running");
    }
}
