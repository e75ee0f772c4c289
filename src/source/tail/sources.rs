//! Chooses the settings each tailed file is read with: its format, its
//! multiline joining and its limits, from the groups of files in the
//! configuration.
//!
//! The groups under `tail.sources` are tried in order, and the first whose
//! include globs match the path and whose exclude globs do not takes the
//! file. The top-level `tail.include` comes last. A file that no group takes
//! is not read. The top-level `tail.exclude` is applied by discovery before
//! any of this.

use std::path::Path;
use std::sync::Arc;

use super::assemble::ReadSettings;
use super::discover::Discovery;
use crate::config::{GlobPattern, LogFormat, MultilineConfig, TailConfig};

/// The groups of files and their settings, in the order they are tried.
#[derive(Debug)]
pub struct Sources {
    groups: Vec<(Discovery, Arc<ReadSettings>)>,
}

impl Sources {
    /// Compiles the globs of every group.
    pub fn new(config: &TailConfig) -> anyhow::Result<Sources> {
        let mut groups = Vec::with_capacity(config.sources.len() + 1);
        for source in &config.sources {
            let matcher = Discovery::new(&source.include, &source.exclude)?;
            let settings = read_settings(config, source.format, &source.multiline);
            groups.push((matcher, Arc::new(settings)));
        }
        if !config.include.is_empty() {
            let matcher = Discovery::new(&config.include, &[])?;
            let settings = read_settings(config, config.format, &config.multiline);
            groups.push((matcher, Arc::new(settings)));
        }
        Ok(Sources { groups })
    }

    /// Returns the include patterns of every group, for discovery.
    pub fn include_patterns(config: &TailConfig) -> Vec<GlobPattern> {
        let from_sources = config.sources.iter().flat_map(|source| &source.include);
        from_sources.chain(&config.include).cloned().collect()
    }

    /// Returns the settings of the first group that takes `path`.
    pub fn settings_for(&self, path: &Path) -> Option<&Arc<ReadSettings>> {
        self.groups
            .iter()
            .find(|(matcher, _)| matcher.is_match(path))
            .map(|(_, settings)| settings)
    }
}

fn read_settings(
    config: &TailConfig,
    format: LogFormat,
    multiline: &Option<MultilineConfig>,
) -> ReadSettings {
    ReadSettings {
        format,
        max_line_bytes: config.max_line_bytes,
        partial_line_timeout: config.partial_line_timeout(),
        multiline: multiline.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn sources(yaml: &str) -> Sources {
        let config = Config::from_yaml(yaml, "test.yaml").unwrap();
        Sources::new(&config.tail).unwrap()
    }

    fn format_of(sources: &Sources, path: &str) -> Option<LogFormat> {
        sources
            .settings_for(Path::new(path))
            .map(|settings| settings.format)
    }

    #[test]
    fn first_matching_source_wins() {
        let sources = sources(
            "tail:\n\
             \x20 include: ['/logs/**/*.log']\n\
             \x20 format: raw\n\
             \x20 sources:\n\
             \x20   - include: ['/logs/pods/shop_*/*/*.log']\n\
             \x20     exclude: ['/logs/pods/shop_db*/**']\n\
             \x20     format: cri\n\
             \x20     multiline: { start_pattern: '^\\d' }\n\
             \x20   - include: ['/logs/pods/*/*/*.log']\n\
             \x20     format: docker\n",
        );

        assert_eq!(
            format_of(&sources, "/logs/pods/shop_web_u/c/0.log"),
            Some(LogFormat::Cri)
        );
        assert_eq!(
            format_of(&sources, "/logs/pods/shop_db_u/c/0.log"),
            Some(LogFormat::Docker)
        );
        assert_eq!(
            format_of(&sources, "/logs/pods/other_x_u/c/0.log"),
            Some(LogFormat::Docker)
        );
        assert_eq!(
            format_of(&sources, "/logs/node/kubelet.log"),
            Some(LogFormat::Raw)
        );
        assert_eq!(format_of(&sources, "/elsewhere/a.log"), None);

        let shop = sources
            .settings_for(Path::new("/logs/pods/shop_web_u/c/0.log"))
            .unwrap();
        assert!(shop.multiline.is_some());
    }

    #[test]
    fn excluded_by_its_only_source_not_read() {
        let sources = sources(
            "tail:\n\
             \x20 sources:\n\
             \x20   - include: ['/logs/*.log']\n\
             \x20     exclude: ['/logs/debug.log']\n",
        );

        assert_eq!(format_of(&sources, "/logs/app.log"), Some(LogFormat::Auto));
        assert_eq!(format_of(&sources, "/logs/debug.log"), None);
    }

    #[test]
    fn include_patterns_of_all_groups() {
        let config = Config::from_yaml(
            "tail:\n\
             \x20 include: ['/a/*.log']\n\
             \x20 sources:\n\
             \x20   - include: ['/b/*.log', '/c/*.log']\n",
            "test.yaml",
        )
        .unwrap();

        let patterns: Vec<String> = Sources::include_patterns(&config.tail)
            .iter()
            .map(|pattern| pattern.as_str().to_string())
            .collect();

        assert_eq!(patterns, vec!["/b/*.log", "/c/*.log", "/a/*.log"]);
        assert_eq!(config.tail.include_pattern_count(), 3);
    }
}
