//! Joins continuation lines, such as the lines of a stack trace, to the
//! record of the line that starts them.
//!
//! A line that matches the start pattern begins a new record. A line that
//! does not is appended to the pending record with a `\n` between them. The
//! pending record is sent when the next record begins, when it would exceed
//! `max_lines` or `max_bytes`, or when no line came for `timeout`. The
//! caller keeps one joiner per stream, so stdout and stderr lines of one
//! container never mix.

use std::time::{Duration, Instant};

use crate::config::MultilineConfig;

/// One line handed to the joiner.
#[derive(Debug)]
pub struct JoinLine {
    pub text: String,
    pub invalid_utf8: bool,
    pub time_unix_nano: u64,
    pub start_offset: u64,
    /// Offset where reading resumes once this line is sent.
    pub end_offset: u64,
    /// True if this text continues a line that was cut at
    /// `max_line_bytes`: it always begins a new record, because a join
    /// would put a `\n` where the line had none.
    pub after_cut: bool,
}

/// A record of one or more joined lines.
#[derive(Debug, PartialEq, Eq)]
pub struct Joined {
    pub body: String,
    pub invalid_utf8: bool,
    /// Time of the first line.
    pub time_unix_nano: u64,
    /// Offset of the first line.
    pub start_offset: u64,
    /// Offset where reading resumes once the last line is sent.
    pub end_offset: u64,
    pub lines: usize,
}

/// The pending record of one stream.
#[derive(Debug, Default)]
pub struct Joiner {
    pending: Option<(Joined, Instant)>,
}

/// The result of one [`Joiner::push`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pushed {
    /// The record the line ended, if any.
    pub finished: Option<Joined>,
    /// True if the record was sent only because it reached `max_lines` or
    /// `max_bytes`.
    pub limit_reached: bool,
}

impl Joiner {
    /// Adds `line` received at `now`.
    pub fn push(&mut self, line: JoinLine, config: &MultilineConfig, now: Instant) -> Pushed {
        let starts_record = line.after_cut || config.start_pattern.is_start(&line.text);

        if let Some((joined, last_line_at)) = &mut self.pending
            && !starts_record
        {
            let fits = joined.lines < config.max_lines
                && joined.body.len() + 1 + line.text.len() <= config.max_bytes;
            if fits {
                joined.body.push('\n');
                joined.body.push_str(&line.text);
                joined.invalid_utf8 |= line.invalid_utf8;
                joined.end_offset = line.end_offset;
                joined.lines += 1;
                *last_line_at = now;
                return Pushed::default();
            }
            return Pushed {
                finished: self.replace_pending(line, now),
                limit_reached: true,
            };
        }

        Pushed {
            finished: self.replace_pending(line, now),
            limit_reached: false,
        }
    }

    fn replace_pending(&mut self, line: JoinLine, now: Instant) -> Option<Joined> {
        let joined = Joined {
            body: line.text,
            invalid_utf8: line.invalid_utf8,
            time_unix_nano: line.time_unix_nano,
            start_offset: line.start_offset,
            end_offset: line.end_offset,
            lines: 1,
        };
        self.pending
            .replace((joined, now))
            .map(|(finished, _)| finished)
    }

    /// Returns the pending record if no line came for `timeout`.
    pub fn take_expired(&mut self, now: Instant, timeout: Duration) -> Option<Joined> {
        let (_, last_line_at) = self.pending.as_ref()?;
        if now.saturating_duration_since(*last_line_at) < timeout {
            return None;
        }
        self.pending.take().map(|(joined, _)| joined)
    }

    /// Offset of the first line of the pending record, if there is one.
    pub fn pending_start(&self) -> Option<u64> {
        self.pending.as_ref().map(|(joined, _)| joined.start_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StartPattern;

    fn config(max_lines: usize, max_bytes: usize) -> MultilineConfig {
        MultilineConfig {
            start_pattern: StartPattern::try_from(r"^\d{4}-".to_string()).unwrap(),
            timeout_ms: 100,
            max_lines,
            max_bytes,
        }
    }

    fn line(text: &str, start_offset: u64) -> JoinLine {
        JoinLine {
            text: text.to_string(),
            invalid_utf8: false,
            time_unix_nano: start_offset * 10,
            start_offset,
            end_offset: start_offset + text.len() as u64 + 1,
            after_cut: false,
        }
    }

    /// Pushes `lines` at one instant and returns the bodies of the records
    /// they finished, then of the pending one.
    fn join_all(
        joiner: &mut Joiner,
        config: &MultilineConfig,
        lines: Vec<JoinLine>,
    ) -> Vec<String> {
        let now = Instant::now();
        let mut bodies: Vec<String> = lines
            .into_iter()
            .filter_map(|line| joiner.push(line, config, now).finished)
            .map(|joined| joined.body)
            .collect();
        if let Some(joined) = joiner.take_expired(now, Duration::ZERO) {
            bodies.push(joined.body);
        }
        bodies
    }

    #[test]
    fn stack_trace_joined_to_its_start() {
        let config = config(100, 10_000);
        let mut joiner = Joiner::default();
        let now = Instant::now();

        assert_eq!(
            joiner.push(line("2024-05-01 ERROR failed", 0), &config, now),
            Pushed::default()
        );
        assert_eq!(
            joiner.push(
                line("java.lang.IllegalStateException: boom", 24),
                &config,
                now
            ),
            Pushed::default()
        );
        assert_eq!(
            joiner.push(line("\tat a.B.c(B.java:1)", 63), &config, now),
            Pushed::default()
        );
        let pushed = joiner.push(line("2024-05-01 INFO next", 84), &config, now);

        let finished = pushed.finished.unwrap();
        assert_eq!(
            finished.body,
            "2024-05-01 ERROR failed\njava.lang.IllegalStateException: boom\n\tat a.B.c(B.java:1)"
        );
        assert_eq!(finished.lines, 3);
        assert_eq!(finished.start_offset, 0);
        assert_eq!(finished.end_offset, 83);
        assert_eq!(finished.time_unix_nano, 0);
        assert!(!pushed.limit_reached);
        assert_eq!(joiner.pending_start(), Some(84));
    }

    #[test]
    fn leading_continuation_is_own_record() {
        let config = config(100, 10_000);
        let mut joiner = Joiner::default();

        let bodies = join_all(
            &mut joiner,
            &config,
            vec![
                line("\tat orphan", 0),
                line("\tat orphan 2", 11),
                line("2024-05-01 x", 24),
            ],
        );

        assert_eq!(bodies, vec!["\tat orphan\n\tat orphan 2", "2024-05-01 x"]);
    }

    #[test]
    fn max_lines_starts_new_record() {
        let config = config(2, 10_000);
        let mut joiner = Joiner::default();
        let now = Instant::now();
        joiner.push(line("2024-05-01 start", 0), &config, now);
        joiner.push(line("one", 17), &config, now);

        let pushed = joiner.push(line("two", 21), &config, now);

        assert_eq!(pushed.finished.unwrap().body, "2024-05-01 start\none");
        assert!(pushed.limit_reached);
        assert_eq!(joiner.pending_start(), Some(21));
    }

    #[test]
    fn max_bytes_starts_new_record() {
        let config = config(100, 1024);
        let mut joiner = Joiner::default();
        let long = "x".repeat(600);

        let bodies = join_all(
            &mut joiner,
            &config,
            vec![
                line("2024-05-01 start", 0),
                line(&long, 17),
                line(&long, 618),
            ],
        );

        assert_eq!(bodies.len(), 2);
        assert_eq!(bodies[0].len(), 17 + 600);
        assert_eq!(bodies[1], long);
    }

    #[test]
    fn text_after_cut_starts_new_record() {
        let config = config(100, 10_000);
        let mut joiner = Joiner::default();
        let mut rest = line("rest of a long line", 50);
        rest.after_cut = true;

        let bodies = join_all(
            &mut joiner,
            &config,
            vec![line("2024-05-01 long", 0), rest, line("\tcontinued", 70)],
        );

        assert_eq!(
            bodies,
            vec!["2024-05-01 long", "rest of a long line\n\tcontinued"]
        );
    }

    #[test]
    fn pending_sent_after_timeout() {
        let config = config(100, 10_000);
        let mut joiner = Joiner::default();
        let start = Instant::now();
        joiner.push(line("2024-05-01 a", 0), &config, start);
        joiner.push(line("b", 13), &config, start + Duration::from_millis(50));

        assert_eq!(
            joiner.take_expired(start + Duration::from_millis(120), config.timeout()),
            None
        );
        let joined = joiner
            .take_expired(start + Duration::from_millis(150), config.timeout())
            .unwrap();

        assert_eq!(joined.body, "2024-05-01 a\nb");
        assert_eq!(joiner.pending_start(), None);
    }

    #[test]
    fn invalid_utf8_flag_carried() {
        let config = config(100, 10_000);
        let mut joiner = Joiner::default();
        let mut bad = line("b\u{FFFD}", 13);
        bad.invalid_utf8 = true;

        let now = Instant::now();
        joiner.push(line("2024-05-01 a", 0), &config, now);
        joiner.push(bad, &config, now);
        let joined = joiner.take_expired(now, Duration::ZERO).unwrap();

        assert!(joined.invalid_utf8);
    }
}
