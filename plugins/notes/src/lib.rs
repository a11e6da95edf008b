//! `notes`: notes kept in the plugin's storage, so they outlive calls and restarts.
//!
//! Each note is stored as JSON under the key `note/{title}`; the resource template
//! `notes://{title}` reads one (served as `notes://notes/{title}` under the default
//! namespace).

use pier_sdk::prelude::*;
use pier_sdk::storage;
use serde::{Deserialize, Serialize};

/// The longest title, in characters (keys stay well inside the host's key limit).
const MAX_TITLE: usize = 200;

/// A stored note.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
struct Note {
    /// Its title (unique).
    title: String,
    /// Its text.
    body: String,
}

fn key(title: &str) -> Result<String, Error> {
    let title = title.trim();
    if title.is_empty() {
        return Err(Error::InvalidParams("the title is empty".into()));
    }
    if title.chars().count() > MAX_TITLE {
        return Err(Error::InvalidParams(format!(
            "the title is longer than {MAX_TITLE} characters"
        )));
    }
    Ok(format!("note/{title}"))
}

fn load(title: &str) -> Result<Note, Error> {
    storage::get_json::<Note>(&key(title)?)?
        .ok_or_else(|| Error::Failed(format!("there is no note titled `{}`", title.trim())))
}

/// Save a note under a title (replacing a note with the same title).
#[tool]
fn add(
    /// The note's title, unique among notes.
    title: String,
    /// The note's text.
    body: String,
) -> Result<String, Error> {
    let key = key(&title)?;
    let title = title.trim().to_string();
    let existed = storage::get(&key)?.is_some();
    storage::set_json(
        &key,
        &Note {
            title: title.clone(),
            body,
        },
    )?;
    Ok(if existed {
        format!("Replaced the note `{title}`.")
    } else {
        format!("Saved the note `{title}`.")
    })
}

/// The text of the note with this title.
#[tool(read_only)]
fn get(
    /// The note's title.
    title: String,
) -> Result<String, Error> {
    Ok(load(&title)?.body)
}

/// The titles of all notes, one per line, in alphabetical order.
#[tool(read_only)]
fn list() -> Result<String, Error> {
    let titles: Vec<String> = storage::keys("note/")?
        .into_iter()
        .map(|k| k["note/".len()..].to_string())
        .collect();
    Ok(if titles.is_empty() {
        "No notes yet.".to_string()
    } else {
        titles.join("\n")
    })
}

/// Delete the note with this title.
#[tool(destructive)]
fn delete(
    /// The note's title.
    title: String,
) -> Result<String, Error> {
    if storage::delete(&key(&title)?)? {
        Ok(format!("Deleted the note `{}`.", title.trim()))
    } else {
        Err(Error::Failed(format!(
            "there is no note titled `{}`",
            title.trim()
        )))
    }
}

/// A note's text, by title.
#[resource(uri = "notes://{title}", mime_type = "text/plain")]
fn note(title: String) -> Result<String, Error> {
    match storage::get_json::<Note>(&key(&title)?)? {
        Some(note) => Ok(note.body),
        None => Err(Error::NotFound(format!(
            "there is no note titled `{}`",
            title.trim()
        ))),
    }
}

pier_sdk::plugin! {
    name: "notes",
    version: env!("CARGO_PKG_VERSION"),
    tools: [add, get, list, delete],
    resources: [note],
    complete: |_reference, argument, value| {
        // Suggest existing titles for the template's `title`.
        if argument != "title" {
            return Vec::new();
        }
        storage::keys(&format!("note/{value}"))
            .unwrap_or_default()
            .into_iter()
            .map(|k| k["note/".len()..].to_string())
            .take(100)
            .collect()
    },
}
