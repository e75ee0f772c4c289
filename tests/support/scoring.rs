//! Scores redaction against a labeled corpus. Shared by
//! `tests/detection_quality.rs` and `examples/measure.rs` through `#[path]`.
//!
//! A corpus file is JSON Lines, one object a line: `line`, `pii: [{start,
//! end, type, value}]`, `decoys: [{start, end, text, kind}]` and `template`,
//! with offsets in characters (Unicode scalar values) into `line`.
//!
//! # How a line is scored
//!
//! Each line goes through [`Redactor::redact`], the function the agent
//! runs, with a fixed key. The output is then aligned with the original to
//! recover the byte span that each token replaced: the text between tokens
//! must appear in the original unchanged and in order, and each token must
//! be the token of the original text it replaces (its MAC is
//! recomputed from that text, or from the JSON-decoded text when the value
//! sat in a JSON string with escapes). A token that replaced a bare JSON
//! number is written with quotes, and the alignment allows for that. The
//! result is a list of replacements `(start, end, kind)` in original bytes.
//!
//! - A labeled span is **found** when a replacement has exactly its start,
//!   end and kind. For a value under a sensitive JSON key the span is the
//!   text between the quotes, or the bare number.
//! - A replacement that overlaps no labeled span of any kind is a **false
//!   positive** of its kind. Precision is `(hits - false positives) / hits`,
//!   so a hit with the wrong kind or boundary on a labeled value costs recall
//!   but not precision.
//! - A decoy **survives** when no replacement overlaps it.
//! - A line is **changed** when its output does not align: something other
//!   than whole replaced values differs. Every label and decoy of such a
//!   line counts as missed or not survived.
//!
//! For lines that are not JSON documents the redactor replaces exactly the
//! hits of [`Engine::find`], so the scorer also compares the two and counts
//! disagreements.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use hush::detect::{Engine, EngineOptions, Hit, KindId};
use hush::redact::Redactor;
use hush::token::{Key, Tokenizer};
use serde::Deserialize;

/// The key id of the scoring key, chosen so that `_sk_` followed by 16
/// base32 characters does not occur in the corpora by chance.
const KEY_ID: &str = "sk";
/// A fixed key, so that reruns produce the same output.
const KEY_HEX: &str = "5c0b7e1d9a2f46e8b3c1d0e9f8a7b6c55c0b7e1d9a2f46e8b3c1d0e9f8a7b6c5";
const MAC_CHARS: usize = 16;
/// Examples kept per kind for reports.
pub const MAX_EXAMPLES: usize = 5;

#[derive(Deserialize, Clone)]
pub struct Record {
    pub line: String,
    #[serde(default)]
    pub pii: Vec<Labeled>,
    #[serde(default)]
    pub decoys: Vec<Decoy>,
    #[serde(default)]
    pub template: String,
}

#[derive(Deserialize, Clone)]
pub struct Labeled {
    pub start: usize,
    pub end: usize,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Deserialize, Clone)]
pub struct Decoy {
    pub start: usize,
    pub end: usize,
    pub kind: String,
}

/// Reads a corpus file, naming the file and line of any record that fails
/// to parse.
pub fn load(path: &Path) -> Result<Vec<Record>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("failed to read {}: {error}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, json)| !json.trim().is_empty())
        .map(|(index, json)| {
            serde_json::from_str(json).map_err(|error| {
                format!("{}:{}: invalid record: {error}", path.display(), index + 1)
            })
        })
        .collect()
}

/// Recall and precision counts of one kind.
#[derive(Default)]
pub struct KindScore {
    pub labeled: usize,
    pub found: usize,
    pub hits: usize,
    pub false_positives: usize,
    /// Up to [`MAX_EXAMPLES`] missed values, each with what replaced it.
    pub missed_examples: Vec<String>,
    /// Up to [`MAX_EXAMPLES`] false positives, each with its line.
    pub false_positive_examples: Vec<String>,
}

impl KindScore {
    /// Returns found / labeled, or 1 when nothing is labeled.
    pub fn recall(&self) -> f64 {
        ratio(self.found, self.labeled)
    }

    /// Returns the share of hits that overlap a labeled span, or 1 when
    /// there are no hits.
    pub fn precision(&self) -> f64 {
        ratio(self.hits - self.false_positives, self.hits)
    }
}

/// Survival counts of one decoy kind.
#[derive(Default)]
pub struct DecoyScore {
    pub total: usize,
    pub survived: usize,
    /// Up to [`MAX_EXAMPLES`] decoys that were replaced, with their lines.
    pub replaced_examples: Vec<String>,
}

impl DecoyScore {
    pub fn survival(&self) -> f64 {
        ratio(self.survived, self.total)
    }
}

/// The totals over every scored line.
#[derive(Default)]
pub struct Report {
    pub lines: usize,
    /// Per labeled or detected kind name.
    pub kinds: BTreeMap<String, KindScore>,
    /// Per decoy kind.
    pub decoys: BTreeMap<String, DecoyScore>,
    /// Lines whose output differs outside the replaced values.
    pub changed_lines: usize,
    pub changed_examples: Vec<String>,
    /// Non-JSON lines where the aligned replacements differ from
    /// `Engine::find`.
    pub find_disagreements: usize,
    pub find_disagreement_examples: Vec<String>,
}

fn ratio(part: usize, total: usize) -> f64 {
    match total {
        0 => 1.0,
        _ => part as f64 / total as f64,
    }
}

fn push_example(examples: &mut Vec<String>, example: impl FnOnce() -> String) {
    if examples.len() < MAX_EXAMPLES {
        examples.push(example());
    }
}

/// A span of the original line that one token replaced.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Replacement {
    pub start: usize,
    pub end: usize,
    pub kind: String,
}

/// A piece of redacted output: text copied from the original, or a token.
enum Piece<'a> {
    Text(&'a str),
    /// `quoted` is set when the token sits between two `"` that are not
    /// part of the surrounding text pieces, because the original value may
    /// have been a bare JSON number.
    Token {
        kind: &'a str,
        token: &'a str,
        quoted: bool,
    },
}

/// The built-in engine and a redactor with a fixed key.
pub struct Scorer {
    redactor: Redactor,
    tokenizer: Tokenizer,
    /// Kind names with their ids, longest name first, so that a token's
    /// kind is read as `US_SSN` and not a shorter name it ends with.
    kinds: Vec<(String, KindId)>,
    kind_ids: HashMap<String, KindId>,
}

impl Scorer {
    pub fn builtin() -> Result<Scorer, String> {
        let make_engine = || {
            Engine::builtin(&EngineOptions::default())
                .map_err(|error| format!("failed to build the built-in engine: {error}"))
        };
        let make_tokenizer = || {
            Key::from_text(KEY_HEX, KEY_ID)
                .map(Tokenizer::new)
                .map_err(|error| format!("invalid scoring key: {error}"))
        };
        let redactor = Redactor::new(make_engine()?, make_tokenizer()?);
        let mut kinds: Vec<(String, KindId)> = redactor
            .engine()
            .kind_names()
            .map(|(id, name)| (name.to_owned(), id))
            .collect();
        kinds.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
        let kind_ids = kinds.iter().cloned().collect();
        Ok(Scorer {
            redactor,
            tokenizer: make_tokenizer()?,
            kinds,
            kind_ids,
        })
    }

    pub fn engine(&self) -> &Engine {
        self.redactor.engine()
    }

    /// Reports whether the engine has a kind of this name.
    pub fn has_kind(&self, name: &str) -> bool {
        self.kind_ids.contains_key(name)
    }

    /// Scores every record into `report`.
    pub fn score(&self, records: &[Record], report: &mut Report) {
        let mut hits = Vec::new();
        for record in records {
            self.score_record(record, report, &mut hits);
        }
    }

    fn score_record(&self, record: &Record, report: &mut Report, hits: &mut Vec<Hit>) {
        let line = record.line.as_str();
        report.lines += 1;

        // Labels count characters; the engine and the alignment count bytes.
        let mut byte_offsets: Vec<usize> = line.char_indices().map(|(index, _)| index).collect();
        byte_offsets.push(line.len());
        let to_bytes = |start: usize, end: usize| {
            let clamp = |offset: usize| byte_offsets[offset.min(byte_offsets.len() - 1)];
            (clamp(start), clamp(end))
        };

        let output = self.redactor.redact(line);
        let replacements = match self.align(line, &output) {
            Some(replacements) => replacements,
            None => {
                report.changed_lines += 1;
                push_example(&mut report.changed_examples, || {
                    format!("{line}\n      became {output}")
                });
                self.count_unaligned(record, report);
                return;
            }
        };

        if !is_json_document(line) {
            self.engine().find(line, hits);
            let found: Vec<Replacement> = hits
                .iter()
                .map(|hit| Replacement {
                    start: hit.start,
                    end: hit.end,
                    kind: self.engine().kind_name(hit.kind).to_owned(),
                })
                .collect();
            if found != replacements {
                report.find_disagreements += 1;
                push_example(&mut report.find_disagreement_examples, || {
                    format!("{line}\n      find {found:?}\n      aligned {replacements:?}")
                });
            }
        }

        let labels: Vec<(usize, usize, &str)> = record
            .pii
            .iter()
            .map(|label| {
                let (start, end) = to_bytes(label.start, label.end);
                (start, end, label.kind.as_str())
            })
            .collect();

        for &(start, end, kind) in &labels {
            let score = report.kinds.entry(kind.to_owned()).or_default();
            score.labeled += 1;
            let exact = replacements
                .iter()
                .any(|r| r.start == start && r.end == end && r.kind == kind);
            if exact {
                score.found += 1;
                continue;
            }
            push_example(&mut score.missed_examples, || {
                let overlapping: Vec<String> = replacements
                    .iter()
                    .filter(|r| r.start < end && start < r.end)
                    .map(|r| format!("{} {:?}", r.kind, &line[r.start..r.end]))
                    .collect();
                let got = match overlapping.is_empty() {
                    true => "nothing".to_owned(),
                    false => overlapping.join(", "),
                };
                format!(
                    "{:?} replaced by {got} in ({}): {line}",
                    &line[start..end],
                    record.template
                )
            });
        }

        for replacement in &replacements {
            let score = report.kinds.entry(replacement.kind.clone()).or_default();
            score.hits += 1;
            let labeled = labels
                .iter()
                .any(|&(start, end, _)| replacement.start < end && start < replacement.end);
            if !labeled {
                score.false_positives += 1;
                push_example(&mut score.false_positive_examples, || {
                    let value = &line[replacement.start..replacement.end];
                    format!("{value:?} in: {line}")
                });
            }
        }

        for decoy in &record.decoys {
            let (start, end) = to_bytes(decoy.start, decoy.end);
            let score = report.decoys.entry(decoy.kind.clone()).or_default();
            score.total += 1;
            let replaced = replacements.iter().find(|r| r.start < end && start < r.end);
            match replaced {
                None => score.survived += 1,
                Some(r) => push_example(&mut score.replaced_examples, || {
                    format!("{:?} hit as {} in: {line}", &line[start..end], r.kind)
                }),
            }
        }
    }

    /// Counts every label of a line that did not align as missed and every
    /// decoy as replaced.
    fn count_unaligned(&self, record: &Record, report: &mut Report) {
        for label in &record.pii {
            let score = report.kinds.entry(label.kind.clone()).or_default();
            score.labeled += 1;
            push_example(&mut score.missed_examples, || {
                format!("line changed outside its values: {}", record.line)
            });
        }
        for decoy in &record.decoys {
            let score = report.decoys.entry(decoy.kind.clone()).or_default();
            score.total += 1;
            push_example(&mut score.replaced_examples, || {
                format!("line changed outside its values: {}", record.line)
            });
        }
    }

    /// Redacts `line` and returns the spans that were replaced, or `None`
    /// when the output changed anything else.
    pub fn replacements(&self, line: &str) -> Option<Vec<Replacement>> {
        self.align(line, &self.redactor.redact(line))
    }

    /// Recovers the replaced spans of `original` from the redacted `output`,
    /// or returns `None` when the output differs in any other way.
    pub fn align(&self, original: &str, output: &str) -> Option<Vec<Replacement>> {
        if original == output {
            return Some(Vec::new());
        }
        let pieces = self.split_output(output);
        let mut replacements = Vec::new();
        self.match_from(original, &pieces, 0, &mut replacements)
            .then_some(replacements)
    }

    /// Splits redacted output into copied text and tokens of this key.
    fn split_output<'a>(&self, output: &'a str) -> Vec<Piece<'a>> {
        let marker = format!("_{KEY_ID}_");
        let bytes = output.as_bytes();
        let mut pieces = Vec::new();
        let mut copied = 0;
        for (index, _) in output.match_indices(&marker) {
            let mac_start = index + marker.len();
            let mac_end = mac_start + MAC_CHARS;
            let is_mac = bytes.get(mac_start..mac_end).is_some_and(|mac| {
                mac.iter()
                    .all(|&b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
            });
            if !is_mac || index < copied {
                continue;
            }
            let Some((kind, _)) = self
                .kinds
                .iter()
                .find(|(name, _)| output[copied..index].ends_with(name.as_str()))
            else {
                continue;
            };
            let start = index - kind.len();
            let quoted =
                start > copied && bytes[start - 1] == b'"' && bytes.get(mac_end) == Some(&b'"');
            let text_end = if quoted { start - 1 } else { start };
            pieces.push(Piece::Text(&output[copied..text_end]));
            pieces.push(Piece::Token {
                kind: &output[start..index],
                token: &output[start..mac_end],
                quoted,
            });
            copied = if quoted { mac_end + 1 } else { mac_end };
        }
        pieces.push(Piece::Text(&output[copied..]));
        pieces
    }

    /// Matches `pieces` against `original[position..]`, backtracking over
    /// where each token's value ends.
    fn match_from(
        &self,
        original: &str,
        pieces: &[Piece<'_>],
        position: usize,
        replacements: &mut Vec<Replacement>,
    ) -> bool {
        let Some((piece, rest)) = pieces.split_first() else {
            return position == original.len();
        };
        match piece {
            Piece::Text(text) => {
                original[position..].starts_with(text)
                    && self.match_from(original, rest, position + text.len(), replacements)
            }
            Piece::Token {
                kind,
                token,
                quoted: false,
            } => self.match_value(original, rest, position, 0, kind, token, replacements),
            Piece::Token {
                kind,
                token,
                quoted: true,
            } => {
                // A JSON string (or quoted text) whose contents were
                // replaced, or a bare number that became a quoted token.
                let in_quotes = original[position..].starts_with('"')
                    && self.match_value(original, rest, position + 1, 1, kind, token, replacements);
                in_quotes || self.match_number(original, rest, position, kind, token, replacements)
            }
        }
    }

    /// Tries each end for a value starting at `start`, where the value is
    /// followed by `closing` bytes (a quote, or nothing) and then `rest`.
    #[allow(clippy::too_many_arguments)]
    fn match_value(
        &self,
        original: &str,
        rest: &[Piece<'_>],
        start: usize,
        closing: usize,
        kind: &str,
        token: &str,
        replacements: &mut Vec<Replacement>,
    ) -> bool {
        let ends: Vec<usize> = match (closing, rest.first()) {
            (1, _) => original[start..]
                .match_indices('"')
                .map(|(offset, _)| start + offset)
                .collect(),
            (_, Some(Piece::Text(next))) if !next.is_empty() => original[start..]
                .match_indices(next)
                .map(|(offset, _)| start + offset)
                .collect(),
            (_, None) => vec![original.len()],
            _ => (start + 1..=original.len())
                .filter(|&end| original.is_char_boundary(end))
                .collect(),
        };
        for end in ends {
            if end <= start || !self.is_token_of(kind, token, &original[start..end]) {
                continue;
            }
            replacements.push(Replacement {
                start,
                end,
                kind: kind.to_owned(),
            });
            if self.match_from(original, rest, end + closing, replacements) {
                return true;
            }
            replacements.pop();
        }
        false
    }

    fn match_number(
        &self,
        original: &str,
        rest: &[Piece<'_>],
        start: usize,
        kind: &str,
        token: &str,
        replacements: &mut Vec<Replacement>,
    ) -> bool {
        let length = original[start..]
            .bytes()
            .take_while(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
            .count();
        let end = start + length;
        if length == 0 || !self.is_token_of(kind, token, &original[start..end]) {
            return false;
        }
        replacements.push(Replacement {
            start,
            end,
            kind: kind.to_owned(),
        });
        if self.match_from(original, rest, end, replacements) {
            return true;
        }
        replacements.pop();
        false
    }

    /// Reports whether `token` is the token of `value` as `kind`, taking
    /// `value` as found or, when it contains escapes, as a decoded JSON string.
    fn is_token_of(&self, kind: &str, token: &str, value: &str) -> bool {
        let Some(&id) = self.kind_ids.get(kind) else {
            return false;
        };
        let matches = |value: &str| {
            let mut expected = String::with_capacity(token.len());
            let normalized = self.engine().normalize(id, value);
            self.tokenizer.push_token(kind, &normalized, &mut expected);
            expected == token
        };
        if matches(value) {
            return true;
        }
        value.contains('\\')
            && serde_json::from_str::<String>(&format!("\"{value}\""))
                .is_ok_and(|decoded| matches(&decoded))
    }
}

/// Reports whether the redactor treats `line` as a JSON document: its first
/// and last non-space characters are `{}` or `[]` and it parses.
fn is_json_document(line: &str) -> bool {
    let trimmed = line.trim_ascii();
    let framed = (trimmed.starts_with('{') && trimmed.ends_with('}'))
        || (trimmed.starts_with('[') && trimmed.ends_with(']'));
    framed && serde_json::from_str::<serde::de::IgnoredAny>(line).is_ok()
}
