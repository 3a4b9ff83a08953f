//! Splitting text into the terms text search indexes and looks for, as MongoDB's
//! text indexes of version 3 do: words are the runs of characters between
//! delimiters (Unicode's white space, dashes, hyphens, quotation marks, terminal
//! punctuation and pattern syntax; in English an apostrophe joins, so "don't" is
//! one word), each folded to lower case (by Turkish rules in Turkish) and stripped
//! of its diacritics unless the search is sensitive to them, then dropped when it
//! is a stop word, else stemmed.

use icu_normalizer::{ComposingNormalizerBorrowed, DecomposingNormalizerBorrowed};
use icu_properties::props::{
    Dash, Diacritic, Hyphen, PatternSyntax, QuotationMark, SentenceTerminal, TerminalPunctuation, WhiteSpace,
};
use icu_properties::{CodePointSetData, CodePointSetDataBorrowed};

use super::Language;

/// What folding keeps: the case and the diacritics of a search that is sensitive to
/// them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sensitivity {
    pub case: bool,
    pub diacritics: bool,
}

impl Sensitivity {
    /// Index keys and scores: neither case nor diacritics count.
    pub const NONE: Sensitivity = Sensitivity { case: false, diacritics: false };
}

/// Whether `c` separates words in `language`.
pub fn is_delimiter(c: char, language: Language) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if c == '\'' {
        return language != Language::English;
    }
    const SETS: [CodePointSetDataBorrowed<'static>; 7] = [
        CodePointSetData::new::<WhiteSpace>(),
        CodePointSetData::new::<Dash>(),
        CodePointSetData::new::<Hyphen>(),
        CodePointSetData::new::<QuotationMark>(),
        CodePointSetData::new::<TerminalPunctuation>(),
        CodePointSetData::new::<PatternSyntax>(),
        CodePointSetData::new::<SentenceTerminal>(),
    ];
    SETS.iter().any(|set| set.contains(c))
}

/// The words of `text`: the runs between delimiters, as they stand.
pub fn words(text: &str, language: Language) -> impl Iterator<Item = &str> {
    text.split(move |c| is_delimiter(c, language)).filter(|w| !w.is_empty())
}

/// `text` folded as a search with `sensitivity` compares it: lower case unless
/// case counts, without diacritics unless they count.
pub fn fold(text: &str, language: Language, sensitivity: Sensitivity) -> String {
    let out = match sensitivity.case {
        true => text.to_owned(),
        false => lower(text, language),
    };
    match sensitivity.diacritics {
        true => out,
        false => strip_diacritics(&out),
    }
}

/// Lower case by Unicode's simple case folding (one code point for one: `ß` stays,
/// `ς` is `σ`), by Turkish rules in Turkish (`I` is dotless `ı`, `İ` is `i`).
fn lower(text: &str, language: Language) -> String {
    if text.is_ascii() && !language.turkish() {
        return text.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            'I' if language.turkish() => out.push('ı'),
            'İ' if language.turkish() => out.push('i'),
            // No simple folding: kept (its dot goes with the diacritics).
            'İ' => out.push('İ'),
            'ς' => out.push('σ'),
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// `text` without its diacritics: a pure diacritic (a combining accent, `^`, `¨`)
/// is dropped, and a letter that decomposes into one letter and diacritics becomes
/// that letter (`é` is `e`, `й` is `и`; `ø` and `ł` stay).
fn strip_diacritics(text: &str) -> String {
    const DIACRITIC: CodePointSetDataBorrowed<'static> = CodePointSetData::new::<Diacritic>();
    if text.is_ascii() && !text.contains(['^', '`']) {
        return text.to_owned();
    }
    let nfd = DecomposingNormalizerBorrowed::new_nfd();
    let nfc = ComposingNormalizerBorrowed::new_nfc();
    let mut out = String::with_capacity(text.len());
    let mut one = [0u8; 4];
    for c in text.chars() {
        if DIACRITIC.contains(c) {
            continue;
        }
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        let base: String = nfd.normalize(c.encode_utf8(&mut one)).chars().filter(|d| !DIACRITIC.contains(*d)).collect();
        let base = nfc.normalize(&base);
        let mut chars = base.chars();
        match (chars.next(), chars.next()) {
            (Some(single), None) => out.push(single),
            _ => out.push(c),
        }
    }
    out
}

/// The terms of `text` in `language`: its words folded, stop words dropped, stemmed.
pub fn terms(text: &str, language: Language, sensitivity: Sensitivity) -> impl Iterator<Item = String> + '_ {
    words(text, language).filter_map(move |word| term(word, language, sensitivity))
}

/// The term of one word; `None` for a stop word. As MongoDB: the word in lower
/// case is checked against the stop words (diacritics count there), then stemmed
/// (in its own case when case counts), then stripped of its diacritics (unless
/// they count).
pub fn term(word: &str, language: Language, sensitivity: Sensitivity) -> Option<String> {
    let lowered = lower(word, language);
    if language.is_stop_word(&lowered) {
        return None;
    }
    let stem = match sensitivity.case {
        true => language.stem(word),
        false => language.stem(&lowered),
    };
    Some(match sensitivity.diacritics {
        true => stem,
        false => strip_diacritics(&stem),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str, language: Language) -> Vec<String> {
        terms(text, language, Sensitivity::NONE).collect()
    }

    #[test]
    fn words_split_on_unicode_delimiters() {
        let w: Vec<&str> =
            words("Hello, world! It's a \u{201c}test\u{201d}\u{2014}really_so 42.", Language::English).collect();
        assert_eq!(w, ["Hello", "world", "It's", "a", "test", "really_so", "42"]);
        let w: Vec<&str> = words("l'homme", Language::French).collect();
        assert_eq!(w, ["l", "homme"]);
    }

    #[test]
    fn terms_fold_drop_stop_words_and_stem() {
        assert_eq!(all("The Coffee Shops", Language::English), ["coffe", "shop"]);
        assert_eq!(all("Café CRÈME", Language::French), ["caf", "crem"]);
        assert_eq!(all("don't stop", Language::English), ["stop"]);
        assert_eq!(all("the running", Language::None), ["the", "running"]);
    }

    #[test]
    fn sensitivity_keeps_case_and_diacritics() {
        let keep = Sensitivity { case: true, diacritics: true };
        assert_eq!(fold("Café", Language::French, keep), "Café");
        assert_eq!(fold("Café", Language::French, Sensitivity::NONE), "cafe");
        assert_eq!(fold("DIŞ", Language::Turkish, Sensitivity { case: false, diacritics: true }), "dış");
    }
}
