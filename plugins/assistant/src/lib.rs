//! `assistant`: tools that work with the client rather than alone — `summarize` asks
//! the client's model (sampling), `book_table` asks the user for what is missing
//! (elicitation).

use pier_sdk::prelude::*;
use serde::Deserialize;

/// Summarise a text in a few sentences, with the client's model.
#[tool(read_only)]
fn summarize(
    ctx: &Context,
    /// The text to summarise.
    text: String,
    /// At most this many sentences (default 3).
    sentences: Option<u32>,
) -> Result<String, Error> {
    let sentences = sentences.unwrap_or(3).clamp(1, 20);
    ctx.info(format!(
        "asking the client's model to summarise {} characters",
        text.len()
    ));
    let request = Sampling::new(format!(
        "Summarise the following text in at most {sentences} sentences. Answer with the summary only.\n\n{text}"
    ))
    .system("You write short, faithful summaries.")
    .max_tokens(300);
    let answer = ctx.sample(&request)?;
    answer
        .text
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| Error::Failed(format!("the model ({}) gave no text", answer.model)))
}

/// What the user is asked for when a booking lacks details.
#[derive(Deserialize, schemars::JsonSchema)]
struct Details {
    /// How many people (1–12).
    party_size: u32,
    /// The time, e.g. 19:30.
    time: String,
    /// The name the table is booked under.
    name: String,
}

/// Book a table at a restaurant; asks the user for what is missing.
#[tool]
fn book_table(
    ctx: &Context,
    /// The restaurant.
    restaurant: String,
    /// How many people.
    party_size: Option<u32>,
    /// The time, e.g. 19:30.
    time: Option<String>,
    /// The name the table is booked under.
    name: Option<String>,
) -> Result<String, Error> {
    let (party_size, time, name) = match (party_size, time, name) {
        (Some(p), Some(t), Some(n)) => (p, t, n),
        _ => {
            let message = format!(
                "To book a table at {restaurant}, please give the party size, time and name."
            );
            match ctx.elicit::<Details>(&message)? {
                Elicitation::Accept(d) => (d.party_size, d.time, d.name),
                Elicitation::Decline => return Ok("Booking declined: no table was booked.".into()),
                Elicitation::Cancel => return Ok("Booking cancelled: no table was booked.".into()),
            }
        }
    };
    if !(1..=12).contains(&party_size) {
        return Err(Error::InvalidParams(format!(
            "a party of {party_size} cannot be booked: 1 to 12 people"
        )));
    }
    Ok(format!(
        "Booked a table for {party_size} at {restaurant} at {time}, under the name {name}."
    ))
}

pier_sdk::plugin! {
    name: "assistant",
    version: env!("CARGO_PKG_VERSION"),
    tools: [summarize, book_table],
}
