//! PROVISIONAL: replaced by the engine branch.
use std::path::PathBuf;
#[derive(Default)]
pub struct EngineOptions {
    pub disabled_kinds: Vec<String>,
    pub dictionaries: Vec<DictionarySpec>,
}
pub struct DictionarySpec {
    pub kind: String,
    pub path: PathBuf,
}
pub struct Engine;
impl Engine {
    pub fn builtin(_o: &EngineOptions) -> anyhow::Result<Engine> {
        Ok(Engine)
    }
}
