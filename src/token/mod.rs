//! PROVISIONAL: replaced by the engine branch.
use std::path::Path;
pub struct Key;
impl Key {
    pub fn generate(_id: &str) -> Key {
        Key
    }
    pub fn from_file(_p: &Path, _id: &str) -> anyhow::Result<Key> {
        Ok(Key)
    }
    pub fn from_text(_t: &str, _id: &str) -> anyhow::Result<Key> {
        Ok(Key)
    }
    pub fn to_text(&self) -> String {
        String::new()
    }
}
pub struct Tokenizer;
impl Tokenizer {
    pub fn new(_k: Key) -> Tokenizer {
        Tokenizer
    }
}
